"""The caller's inbox across workflows, and decisions routed to the owning workflow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request
from temporalio.client import WorkflowExecution, WorkflowQueryFailedError
from temporalio.service import RPCError

from api import visibility
from api.auth import require_actor
from api.deps import Caller, Services, Svc, write_audit
from api.esign import SigningEvent, apply_signing_event
from api.problems import ProblemError, conflict, forbidden, invalid, not_found
from api.schemas import DecisionBody, DecisionResult, TaskOut
from api.workflow_errors import problem_from_temporal, update_problem
from domain.approval import DecideInput, Decision, PartnerApprovalState, ResubmitInput
from domain.common import Model
from domain.deal_messages import SIGNATURE_DECISIONS
from domain.ids import deal_workflow_id
from domain.lifecycle import (
    AddPartnersInput,
    DealState,
    RevisePlanInput,
    SubmitNeedsInput,
    TaskDecisionInput,
)
from domain.tasks import Task, TaskKind
from store import envelopes
from store.tokens import Principal

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

APPROVAL_PREFIX = "partner-approval-"
TASK_WORKFLOW_PREFIXES = (APPROVAL_PREFIX, deal_workflow_id(""))
APPROVAL_WORKFLOW = "PartnerApproval"
_MAX_WORKFLOWS = 200
_QUERY_CONCURRENCY = 16
_QUERY_TIMEOUT = timedelta(seconds=5)

TaskId = Annotated[str, Path(min_length=3, max_length=300, pattern=r"^[A-Za-z0-9._:-]+$")]


@router.get("", response_model=list[TaskOut])
async def my_tasks(svc: Svc, who: Caller) -> list[TaskOut]:
    """Open tasks assigned to the caller, soonest due first."""
    query = visibility.tasks_query(who.user)
    try:
        executions = [e async for e in svc.client.list_workflows(query, limit=_MAX_WORKFLOWS)]
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
    result_type = (
        PartnerApprovalState if execution.workflow_type == APPROVAL_WORKFLOW else DealState
    )
    handle = svc.client.get_workflow_handle(execution.id, run_id=execution.run_id)
    async with gate:
        try:
            state = await handle.query("state", result_type=result_type, rpc_timeout=_QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError):
            return []
    return list(state.open_tasks)


@router.post("/{task_id}/decision", response_model=DecisionResult)
async def decide(
    task_id: TaskId, body: DecisionBody, request: Request, svc: Svc, who: Caller
) -> DecisionResult:
    """Decide a task; the owning workflow's validator has the last word (403/404/409/422)."""
    require_actor(who)
    workflow_id, sep, local_id = task_id.partition(":")
    if not sep or not local_id or not workflow_id.startswith(TASK_WORKFLOW_PREFIXES):
        # only deal and partner-approval workflows hold tasks; never update anything else
        raise not_found(f"task {task_id} does not exist")
    if workflow_id.startswith(APPROVAL_PREFIX):
        result, deal_id = await _decide_partner_approval(svc, who, task_id, workflow_id, body)
    else:
        result, deal_id = await _decide_deal_task(svc, who, task_id, workflow_id, body)
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


async def _decide_partner_approval(
    svc: Services, who: Principal, task_id: str, workflow_id: str, body: DecisionBody
) -> tuple[DecisionResult, str | None]:
    handle = svc.client.get_workflow_handle(workflow_id)
    name: str
    message: ResubmitInput | DecideInput
    if body.decision == "resubmit":
        if body.profile is None:
            raise invalid("body.profile", "a resubmission needs the revised profile")
        name = "resubmit"
        message = ResubmitInput(submitted_by=who.user, profile=body.profile, comment=body.comment)
    else:
        name = "decide"
        message = DecideInput(
            decided_by=who.user,
            decision=_decision(body.decision),
            comment=body.comment,
            delegate_to=body.delegate_to,
            task_id=task_id,
        )
    try:
        state = await handle.execute_update(name, message, result_type=PartnerApprovalState)
    except Exception as exc:
        raise await update_problem(svc.client, workflow_id, exc, what=f"task {task_id}") from exc
    result = DecisionResult(
        task_id=task_id,
        workflow_id=workflow_id,
        decision=body.decision,
        status="accepted",
        state=state.model_dump(mode="json"),
    )
    return result, state.deal_id


async def _decide_deal_task(
    svc: Services, who: Principal, task_id: str, workflow_id: str, body: DecisionBody
) -> tuple[DecisionResult, str | None]:
    """`decide_task` first: plan approval, review, renewal and the owner's `resend` | `cancel`
    after a declined signature (`signature_decision`) cost one round trip.

    A task the deal refuses (409) is looked up: signature and owner-input tasks are routed
    to signing or their own update; anything else keeps the deal's refusal.
    """
    handle = svc.client.get_workflow_handle(workflow_id)
    decision = TaskDecisionInput(
        task_id=task_id,
        decided_by=who.user,
        decision=body.decision,
        comment=body.comment,
        plan=body.plan,
        renew_periods=body.renew_periods,
    )
    try:
        state = await handle.execute_update("decide_task", decision, result_type=DealState)
    except Exception as exc:
        refused = await update_problem(svc.client, workflow_id, exc, what=f"task {task_id}")
        if refused.status != 409:
            raise refused from exc
        return await _route_other_kind(svc, who, task_id, body, refused)
    return _accepted(task_id, workflow_id, body, state), state.deal_id


async def _route_other_kind(
    svc: Services, who: Principal, task_id: str, body: DecisionBody, refused: ProblemError
) -> tuple[DecisionResult, str | None]:
    workflow_id = task_id.partition(":")[0]
    handle = svc.client.get_workflow_handle(workflow_id)
    try:
        current = await handle.query("state", result_type=DealState)
    except (RPCError, WorkflowQueryFailedError) as exc:
        raise refused from exc
    task = next((t for t in current.open_tasks if t.task_id == task_id), None)
    if task is None or task.kind not in ROUTED_KINDS:
        raise refused
    if who.user not in task.assignees:
        raise forbidden(f"task {task_id} is not assigned to {who.user}")
    if task.kind is TaskKind.SIGNATURE:
        return await _sign(svc, who, task, current, body), current.deal_id
    name, message = _owner_update(task, who, body)
    try:
        state = await handle.execute_update(name, message, result_type=DealState)
    except Exception as exc:
        raise await update_problem(svc.client, workflow_id, exc, what=f"task {task_id}") from exc
    return _accepted(task_id, workflow_id, body, state), state.deal_id


def _accepted(
    task_id: str, workflow_id: str, body: DecisionBody, state: DealState
) -> DecisionResult:
    return DecisionResult(
        task_id=task_id,
        workflow_id=workflow_id,
        decision=body.decision,
        status="accepted",
        state=state.model_dump(mode="json"),
    )


OWNER_INPUTS: dict[TaskKind, tuple[str, str]] = {
    TaskKind.NEEDS: ("submit", "needs"),
    TaskKind.PLAN_REVISION: ("revise", "plan"),
    TaskKind.PARTNER_SELECTION: ("add_partners", "partners"),
}


ROUTED_KINDS = {TaskKind.SIGNATURE, *OWNER_INPUTS}


def _owner_update(task: Task, who: Principal, body: DecisionBody) -> tuple[str, Model]:
    """The deal update for an owner-input task: needs, plan revision, partner selection."""
    decision, field = OWNER_INPUTS[task.kind]
    if body.decision != decision:
        raise invalid("body.decision", f"a {task.kind.value} task takes `{decision}`")
    if getattr(body, field) is None:
        raise invalid(f"body.{field}", f"`{decision}` needs `{field}`")
    if task.kind is TaskKind.NEEDS:
        assert body.needs is not None
        return "submit_needs", SubmitNeedsInput(submitted_by=who.user, needs=body.needs)
    if task.kind is TaskKind.PLAN_REVISION:
        assert body.plan is not None
        return "revise_plan", RevisePlanInput(
            submitted_by=who.user, plan=body.plan, comment=body.comment
        )
    assert body.partners is not None
    return "add_partners", AddPartnersInput(submitted_by=who.user, partners=body.partners)


async def _sign(
    svc: Services, who: Principal, task: Task, deal: DealState, body: DecisionBody
) -> DecisionResult:
    """Local-provider signing: the same event path as the provider webhook."""
    if body.decision not in SIGNATURE_DECISIONS:
        raise invalid("body.decision", f"choose one of {', '.join(SIGNATURE_DECISIONS)}")
    envelope = await envelopes.get(svc.pool, deal.envelope_id) if deal.envelope_id else None
    if envelope is None:
        raise conflict(f"deal {deal.deal_id} has no envelope to sign yet")
    if envelope["provider"] != "local":
        raise conflict(f"envelope {envelope['envelope_id']} is signed at {envelope['provider']}")
    event = SigningEvent(
        envelope_id=envelope["envelope_id"],
        event_id=f"local:{task.task_id}:{who.user}",
        event="recipient-completed" if body.decision == "sign" else "recipient-declined",
        at=datetime.now(UTC),
        by=who.user,
        reason=body.comment,
        source="local",
    )
    try:
        applied = await apply_signing_event(svc.pool, svc.client, event)
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal {deal.deal_id}") from exc
    if applied.outcome in ("settled", "stale"):
        raise conflict(f"envelope {event.envelope_id} is {applied.status} already")
    if applied.outcome == "unknown":
        raise conflict(f"envelope {event.envelope_id} is gone")
    return DecisionResult(
        task_id=task.task_id,
        workflow_id=task.workflow_id,
        decision=body.decision,
        status="duplicate" if applied.outcome == "duplicate" else "recorded",
        envelope_status=applied.status,
    )


def _decision(value: str) -> Decision:
    try:
        return Decision(value)
    except ValueError:
        allowed = ", ".join([*(d.value for d in Decision), "resubmit"])
        raise invalid("body.decision", f"choose one of {allowed}") from None
