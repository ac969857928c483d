"""Who may learn that a task exists, and what a decision reply shows its caller.

A task id names its workflow (`deal-<id>:plan-v1`, a partner approval's `...:legal-v1`), and
those ids are guessable: a competitor's token must not learn from an answer that a partner is
a candidate of a deal, or that a task is open. So a task the caller is not assigned to
answers exactly as a task that does not exist: 404, `task <id> does not exist`.

* An open task: only its assignees get past this; everyone else gets the 404.
* A task that is not open (decided, expired, or never opened): the workflow answers (404 or
  409 "already decided") only to the licensor's people who may read the deal (its owner,
  its approvers and signatories, admin, ops) or who acted in the approval's trail; everyone
  else, partner users always, gets the 404.

Where the read model (`deal_tasks`, written by the workflows) shows the task open and the
caller among its assignees, that is the answer, with no call to the workflow: the decision
goes on to the workflow's update, whose validator has the last word (a task closed or
reassigned meanwhile is refused there, 409/403, to a caller who was assigned to it). Any
other case, and a workflow the read model does not hold, asks the workflow's `state` query.

Replies that carry workflow state are the caller's view: a partner user gets the partner
view of a deal (`api.partner_view.partner_view`) or of a partner approval
(`partner_approval_view`: status and its own open tasks; no trail, comments, approver names
or screening scores); the licensor's people get the state as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import READ_ALL, can_read_deal, reads_as_partner_only
from api.denied import HIDDEN_DENIAL as DENIAL_FLAG
from api.deps import Services, access_from_state, deal_access
from api.partner_view import full_view, partner_approval_view, partner_view
from api.problems import ProblemError, not_found
from api.workflow_errors import problem_from_temporal
from domain.approval import PartnerApprovalState
from domain.deal_state import DealState
from domain.ids import is_deal_workflow_id, split_task_id
from domain.tasks import Task
from store import read_model
from store.tokens import Principal
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.partner_approval import PartnerApprovalWorkflow

HIDDEN_DENIAL = DENIAL_FLAG
"""`request.state` flag: this 404 refused access (the task or partner may well exist), so the
denial audit can record it although its status is not 403."""


def no_such_task(task_id: str) -> ProblemError:
    """The one answer for a task that does not exist or is not the caller's."""
    return not_found(f"task {task_id} does not exist")


def hidden_denial(request: Request | None, problem: ProblemError) -> ProblemError:
    """`problem` (a 404), marked on the request (when given) as a refused access."""
    if request is not None:
        setattr(request.state, HIDDEN_DENIAL, True)
    return problem


@dataclass(frozen=True)
class TaskAccess:
    """A task id the caller may decide on (or hear about), and the workflow holding it."""

    task_id: str
    workflow_id: str
    local_id: str
    is_deal: bool
    assigned: bool
    """The task is open and the caller is one of its assignees (False: the task is not
    open, and the caller may hear from the workflow why)."""
    step: str | None = None
    """The approval step of an open task (delegation checks)."""
    deal_id: str | None = None


def parse(task_id: str) -> tuple[str, str, bool]:
    """(workflow id, local id, is a deal) of a task id; the 404 for anything that names no
    workflow holding tasks."""
    split = split_task_id(task_id)
    if split is None:
        raise no_such_task(task_id)
    workflow_id, local_id = split
    return workflow_id, local_id, is_deal_workflow_id(workflow_id)


async def task_access(
    svc: Services, who: Principal, task_id: str, request: Request | None = None
) -> TaskAccess:
    """The task, when the caller may decide it or hear about it; else the 404 (the same
    answer as for an unknown task). An open task of the caller's in the read model is
    taken from there; else the owning workflow's `state` query decides."""
    workflow_id, local_id, is_deal = parse(task_id)
    assigned = await _assigned_in_read_model(svc, who, task_id, workflow_id)
    if assigned is not None:
        return TaskAccess(
            task_id,
            workflow_id,
            local_id,
            is_deal,
            assigned=True,
            step=assigned[0],
            deal_id=assigned[1],
        )
    state = await _state(svc, workflow_id, task_id, is_deal=is_deal)
    task = _open_task(state.open_tasks, task_id)
    access = TaskAccess(
        task_id,
        workflow_id,
        local_id,
        is_deal,
        assigned=task is not None,
        step=task.step if task is not None else None,
        deal_id=state.deal_id,
    )
    if task is not None:
        if who.user not in task.assignees:
            raise hidden_denial(request, no_such_task(task_id))
        return access
    if _licensee(who):
        raise hidden_denial(request, no_such_task(task_id))
    if isinstance(state, DealState):
        deal = access_from_state(state)
        if can_read_deal(who, deal) and not reads_as_partner_only(who, deal):
            return access
    elif who.has(*READ_ALL) or who.user in {e.actor for e in state.trail}:
        return access
    elif await _reads_deal_as_licensor(svc, who, state.deal_id):
        return access
    raise hidden_denial(request, no_such_task(task_id))


async def _assigned_in_read_model(
    svc: Services, who: Principal, task_id: str, workflow_id: str
) -> tuple[str | None, str] | None:
    """(step, deal id) of the task when the read model shows it open in `workflow_id` with
    the caller among its assignees; None otherwise (the workflow is asked then)."""
    row = await read_model.open_task(svc.pool, task_id)
    if row is None or row["workflow_id"] != workflow_id or who.user not in row["assignees"]:
        return None
    return row["step"], row["deal_id"]


def refusal(task: TaskAccess, problem: ProblemError) -> ProblemError:
    """The workflow's refusal as the caller may see it: a missing task, or (for a task that
    was not open to the caller) one it is not assigned to, is the 404 of an unknown task."""
    if problem.status == 404 or (problem.status == 403 and not task.assigned):
        return no_such_task(task.task_id)
    return problem


def deal_reply(state: DealState, who: Principal) -> dict[str, Any]:
    """A deal's state in a decision reply: the partner view for partner users and anyone
    who reads the deal only as its licensee."""
    if _licensee(who) or reads_as_partner_only(who, access_from_state(state)):
        return partner_view(state, who).model_dump(mode="json")
    return full_view(state).model_dump(mode="json")


def approval_reply(state: PartnerApprovalState, who: Principal) -> dict[str, Any]:
    """A partner approval's state in a decision reply: the partner view for partner users
    (and anyone outside the licensor's roles)."""
    if _licensee(who) or not who.has(*READ_ALL, "owner", "approver"):
        return partner_approval_view(state, who).model_dump(mode="json")
    return state.model_dump(mode="json")


def _licensee(who: Principal) -> bool:
    """A partner's user (whatever other roles the token holds)."""
    return who.has("partner") or who.partner_id is not None


def _open_task(tasks: list[Task], task_id: str) -> Task | None:
    return next((t for t in tasks if t.task_id == task_id and t.closed_at is None), None)


async def query_state(
    svc: Services, handle: WorkflowHandle[Any, Any], *, is_deal: bool
) -> DealState | PartnerApprovalState:
    """The `state` query of a workflow holding tasks (a deal or a partner approval)."""
    if is_deal:
        return await handle.query(LicensingDealWorkflow.state, rpc_timeout=svc.rpc_timeout)
    return await handle.query(PartnerApprovalWorkflow.state, rpc_timeout=svc.rpc_timeout)


async def _state(
    svc: Services, workflow_id: str, task_id: str, *, is_deal: bool
) -> DealState | PartnerApprovalState:
    handle = svc.client.get_workflow_handle(workflow_id)
    try:
        return await query_state(svc, handle, is_deal=is_deal)
    except WorkflowQueryFailedError:
        raise no_such_task(task_id) from None
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            problem_from_temporal(exc, what=f"task {task_id}")  # raises when Temporal is out
        raise no_such_task(task_id) from None


async def _reads_deal_as_licensor(svc: Services, who: Principal, deal_id: str) -> bool:
    try:
        deal = await deal_access(svc, deal_id)
    except ProblemError:
        return False
    return can_read_deal(who, deal) and not reads_as_partner_only(who, deal)
