"""Who may decide or resubmit on a PartnerApproval, and why not (four-eyes, stale tasks)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from domain import errors
from domain.approval import DecideInput, Decision, ResubmitInput
from domain.tasks import Task


@dataclass(frozen=True)
class Refusal:
    """Why a decision is refused: an error type of domain.errors and a message."""

    error_type: str
    message: str
    field: str | None = None
    """The decision input field the refusal is about, when there is one."""


def decision_refusal(
    decision: DecideInput,
    *,
    task: Task | None,
    requester: str,
    earlier_approvals: Mapping[str, str],
    step_approvals: Collection[str],
) -> Refusal | None:
    """None when `decision` may be applied to the open step task, else the first refusal.

    `earlier_approvals` maps user -> step they approved earlier in this version;
    `step_approvals` are the users who approved the open step already (quorum all).
    """
    if task is None:
        return Refusal(errors.CONFLICT, "no open decision step")
    if decision.task_id is not None and decision.task_id != task.task_id:
        return Refusal(
            errors.CONFLICT, f"stale task {decision.task_id}: the open task is {task.task_id}"
        )
    who = decision.decided_by
    if who not in task.assignees:
        return Refusal(errors.FORBIDDEN, f"{who} is not an assignee of step {task.step}")
    if who in step_approvals:
        return Refusal(errors.CONFLICT, f"{who} approved step {task.step} already")
    if decision.decision is Decision.APPROVE:
        return _four_eyes(who, requester, earlier_approvals)
    if decision.decision in (Decision.REJECT, Decision.NEEDS_REVISION):
        if not (decision.comment or "").strip():
            return Refusal(errors.INVALID, f"{decision.decision.value} needs a comment", "comment")
        return None
    return _delegation_refusal(decision, task, requester, earlier_approvals)


def _four_eyes(who: str, requester: str, earlier_approvals: Mapping[str, str]) -> Refusal | None:
    if who == requester:
        return Refusal(errors.FORBIDDEN, f"four-eyes: requester {who} cannot approve")
    if who in earlier_approvals:
        return Refusal(
            errors.FORBIDDEN,
            f"four-eyes: {who} approved step {earlier_approvals[who]} already",
        )
    return None


def _delegation_refusal(
    decision: DecideInput, task: Task, requester: str, earlier_approvals: Mapping[str, str]
) -> Refusal | None:
    target = decision.delegate_to
    if target is None:
        return Refusal(errors.INVALID, "delegate needs delegate_to", "delegate_to")
    if target == decision.decided_by:
        return Refusal(errors.INVALID, "cannot delegate to oneself", "delegate_to")
    refusal = _four_eyes(target, requester, earlier_approvals)
    if refusal is not None:
        return Refusal(refusal.error_type, f"cannot delegate: {refusal.message}", "delegate_to")
    if target in task.assignees:
        return Refusal(
            errors.INVALID, f"{target} is an assignee of step {task.step} already", "delegate_to"
        )
    return None


def resubmit_refusal(
    resubmit: ResubmitInput,
    *,
    awaiting_revision: bool,
    requester: str,
    contact_user: str,
    partner_id: str,
) -> Refusal | None:
    """None when a revised profile may be accepted now, else why not."""
    if not awaiting_revision:
        return Refusal(errors.CONFLICT, "not waiting for a revised profile")
    if resubmit.submitted_by not in (requester, contact_user):
        return Refusal(
            errors.FORBIDDEN,
            f"{resubmit.submitted_by} may not resubmit: only the requester or partner contact",
        )
    if resubmit.profile.partner_id != partner_id:
        return Refusal(
            errors.INVALID,
            f"profile is for partner {resubmit.profile.partner_id}, expected {partner_id}",
            "profile.partner_id",
        )
    return None
