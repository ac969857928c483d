"""The caller's inbox across workflows, and decisions routed to the owning workflow.

A task id is `<workflow_id>:<local id>`. A decision goes to the owning workflow's one
`decide` update, which routes it by the task's kind and has the last word (403/409/422);
`sign`/`decline` on a signature task take the e-signature path instead. A task the caller is
not assigned to answers as an unknown task (404, `api/task_access.py`), and a reply carrying
workflow state is the caller's view (partner users get the partner view).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from temporalio.client import WorkflowExecution, WorkflowQueryFailedError
from temporalio.service import RPCError

from api import read_model as read_views
from api import task_access, visibility
from api.deps import Caller, Services, Svc, deal_state, write_audit
from api.esign import SigningEvent, apply_signing_event
from api.gates import decision_gate
from api.people import check_delegate
from api.problems import conflict, invalid
from api.routing import AuthorizeFirstRoute
from api.schemas import DecisionBody, DecisionResult, TaskOut
from api.workflow_errors import problem_from_temporal, update_problem
from domain.approval import DecideInput, Decision, PartnerApprovalState
from domain.deal_messages import SIGNATURE_DECISIONS, TaskDecisionInput
from domain.deal_state import DealState
from domain.tasks import Task
from store import envelopes, read_model
from store.tokens import Principal
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.partner_approval import PartnerApprovalWorkflow

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], route_class=AuthorizeFirstRoute)

APPROVAL_WORKFLOW = "PartnerApproval"
"""Workflow type of PartnerApproval in visibility listings."""
_MAX_WORKFLOWS = 200
_QUERY_CONCURRENCY = 16

StateT = TypeVar("StateT")

TaskId = Annotated[str, Path(min_length=3, max_length=300, pattern=r"^[A-Za-z0-9._:-]+$")]


@router.get("", response_model=list[TaskOut])
async def my_tasks(svc: Svc, who: Caller) -> list[TaskOut]:
    """Open tasks assigned to the caller, soonest due first: from the read model (deals'
    and partner approvals' open tasks, as their workflows last wrote them), or, while an
    open deal runs a run from before it, from each workflow's `state` query."""
    if await read_views.covers_open_deals(svc.pool):
        return [
            TaskOut(
                task_id=r["task_id"],
                kind=r["kind"],
                deal_id=r["deal_id"],
                title=r["title"],
                due_at=r["due_at"],
                allowed_decisions=r["allowed"],
            )
            for r in await read_model.inbox(svc.pool, who.user)
        ]
    query = visibility.tasks_query(who.user)
    try:
        executions = [
            e
            async for e in svc.client.list_workflows(
                query, limit=_MAX_WORKFLOWS, rpc_timeout=svc.rpc_timeout
            )
        ]
    except RPCError as exc:
        raise problem_from_temporal(exc, what="task list") from exc
    gate = asyncio.Semaphore(_QUERY_CONCURRENCY)
    found = await asyncio.gather(*(_open_tasks(svc, e, gate) for e in executions))
    mine = [t for tasks in found for t in tasks if who.user in t.assignees]
    mine.sort(key=lambda t: (t.due_at, t.task_id))
    return [
        TaskOut(
            task_id=t.task_id,
            kind=t.kind.value,
            deal_id=t.deal_id,
            title=t.title,
            due_at=t.due_at,
            allowed_decisions=t.allowed_decisions,
        )
        for t in mine
    ]


async def _open_tasks(
    svc: Services, execution: WorkflowExecution, gate: asyncio.Semaphore
) -> list[Task]:
    """Open tasks of one workflow; none when it finished between listing and querying."""
    handle = svc.client.get_workflow_handle(execution.id, run_id=execution.run_id)
    state: DealState | PartnerApprovalState
    async with gate:
        try:
            is_deal = execution.workflow_type != APPROVAL_WORKFLOW
            state = await task_access.query_state(svc, handle, is_deal=is_deal)
        except (RPCError, WorkflowQueryFailedError):
            return []
    return list(state.open_tasks)


@router.post(
    "/{task_id}/decision",
    response_model=DecisionResult,
    dependencies=[Depends(decision_gate)],  # before the body is validated: api/gates.py
)
async def decide(
    task_id: TaskId, body: DecisionBody, request: Request, svc: Svc, who: Caller
) -> DecisionResult:
    """Decide a task; the owning workflow's validator has the last word (403/409/422).
    A task the caller is not assigned to is a 404, as an unknown task. Ops tokens are
    read-only but for incident tasks."""
    # read-only tokens were refused by `decision_gate` (ops may decide incidents only);
    # only deal and partner-approval workflows hold tasks; never update anything else
    workflow_id, _, is_deal = task_access.parse(task_id)
    handle = svc.client.get_workflow_handle(workflow_id)
    if not is_deal:
        task = await task_access.task_access(svc, who, task_id, request)  # before validation
        approval_input = _approval_decision(who, task_id, body)
        if body.decision == "delegate" and body.delegate_to and task.deal_id:
            await _check_delegation(svc, task, body.delegate_to)
        approval = await _updated(
            svc,
            task,
            handle.execute_update(
                PartnerApprovalWorkflow.decide, approval_input, rpc_timeout=svc.rpc_timeout
            ),
        )
        reply = task_access.approval_reply(approval, who)
        result, deal_id = _accepted(task_id, workflow_id, body, reply), approval.deal_id
    elif body.decision in SIGNATURE_DECISIONS and (
        envelope := await envelopes.for_task(svc.pool, task_id)
    ):
        result, deal_id = await _sign(svc, request, who, envelope, task_id, workflow_id, body)
    else:
        task = await task_access.task_access(svc, who, task_id, request)
        deal = await _updated(
            svc,
            task,
            handle.execute_update(
                LicensingDealWorkflow.decide,
                _deal_decision(who, task_id, body),
                rpc_timeout=svc.rpc_timeout,
            ),
        )
        reply = task_access.deal_reply(deal, who)
        result, deal_id = _accepted(task_id, workflow_id, body, reply), deal.deal_id
    await write_audit(
        svc,
        request,
        who,
        f"task.{body.decision}",
        deal_id=deal_id,
        workflow_id=workflow_id,
        subject=task_id,
        detail={"comment": body.comment, "status": result.status},
    )
    return result


async def _check_delegation(svc: Services, task: task_access.TaskAccess, delegate: str) -> None:
    """422 naming `body.delegate_to` unless the delegate is an eligible approver (active,
    approver role, not the owner, no partner user, no approver of another step)."""
    assert task.deal_id is not None
    deal = await deal_state(svc, task.deal_id)
    if deal.request is None:
        return
    await check_delegate(
        svc.pool,
        delegate,
        owner=deal.owner,
        chain=deal.request.partner_approval_chain,
        step=task.step,
    )


def _accepted(
    task_id: str, workflow_id: str, body: DecisionBody, state: dict[str, Any]
) -> DecisionResult:
    """`state` is the caller's view of the workflow's answer (`api.task_access`)."""
    return DecisionResult(
        task_id=task_id,
        workflow_id=workflow_id,
        decision=body.decision,
        status="accepted",
        state=state,
    )


def _approval_decision(who: Principal, task_id: str, body: DecisionBody) -> DecideInput:
    """PartnerApproval's `decide` input (a `resubmit` carries the revised profile)."""
    return DecideInput(
        decided_by=who.user,
        decision=_decision(body.decision),
        comment=body.comment,
        delegate_to=body.delegate_to,
        task_id=task_id,
        profile=body.profile,
    )


def _deal_decision(who: Principal, task_id: str, body: DecisionBody) -> TaskDecisionInput:
    """The deal's `decide` input: the deal routes it by task kind (plan approval, revision,
    needs, partner selection, declined signature, review, renewal)."""
    return TaskDecisionInput(
        task_id=task_id,
        decided_by=who.user,
        decision=body.decision,
        comment=body.comment,
        plan=body.plan,
        renew_periods=body.renew_periods,
        needs=body.needs,
        partners=body.partners,
    )


async def _updated(
    svc: Services, task: task_access.TaskAccess, update: Awaitable[StateT]
) -> StateT:
    """The workflow's answer to a decision update; its refusal as problem details (as the
    caller may see it: a missing task or a stranger's is the 404 of an unknown task)."""
    try:
        return await update
    except Exception as exc:
        problem = await update_problem(
            svc.client, task.workflow_id, exc, what=f"task {task.task_id}"
        )
        raise task_access.refusal(task, problem) from exc


async def _sign(
    svc: Services,
    request: Request,
    who: Principal,
    envelope: dict[str, Any],
    task_id: str,
    workflow_id: str,
    body: DecisionBody,
) -> tuple[DecisionResult, str]:
    """Local-provider signing of the task's envelope: the same event path as the provider
    webhook."""
    if envelope["workflow_id"] != workflow_id:
        raise task_access.no_such_task(task_id)
    if who.user not in envelope["signatories"]:
        raise task_access.hidden_denial(request, task_access.no_such_task(task_id))
    if envelope["provider"] != "local":
        raise conflict(f"envelope {envelope['envelope_id']} is signed at {envelope['provider']}")
    event = SigningEvent(
        envelope_id=envelope["envelope_id"],
        event_id=f"local:{task_id}:{who.user}",
        event="recipient-completed" if body.decision == "sign" else "recipient-declined",
        at=datetime.now(UTC),
        by=who.user,
        reason=body.comment,
        source="local",
    )
    try:
        applied = await apply_signing_event(
            svc.pool, svc.client, event, rpc_timeout=svc.rpc_timeout
        )
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal {envelope['deal_id']}") from exc
    if applied.outcome in ("settled", "stale"):
        raise conflict(f"envelope {event.envelope_id} is {applied.status} already")
    if applied.outcome == "unknown":
        raise conflict(f"envelope {event.envelope_id} is gone")
    reply = DecisionResult(
        task_id=task_id,
        workflow_id=workflow_id,
        decision=body.decision,
        status="duplicate" if applied.outcome == "duplicate" else "recorded",
        envelope_status=applied.status,
    )
    return reply, envelope["deal_id"]


def _decision(value: str) -> Decision:
    try:
        return Decision(value)
    except ValueError:
        allowed = ", ".join(d.value for d in Decision)
        raise invalid("body.decision", f"choose one of {allowed}") from None
