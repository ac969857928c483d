"""Who may decide or resubmit on a PartnerApproval, and why not (four-eyes, stale tasks,
separation of duties); the separation-of-duties rules the deal and the API share.

Separation of duties (workflows check them in update validators and signal handlers alike;
the API checks the same functions before it asks a workflow):

* a plan is not approved (nor rejected) by the deal's owner, even when named an approver;
* a partner approval step is not approved by its requester (four-eyes) and not decided by
  anyone conflicted with the partner (`PartnerApprovalInput.conflicted`: the deal owner and
  every user bound to the partner, plus the partner's contact user); they are dropped from
  the step's assignees;
* a delegate is eligible: not excluded as above, not an approver of another step still to
  be decided, not someone who approved an earlier step (one person approves one step);
* the licensor signatory is neither a user of the partner nor the owner, unless the deal
  says `owner_may_sign`;
* a resubmitted profile cannot score itself: the licensor's evaluation and risk flags are
  kept from the stored profile (`keep_licensor_assessment`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from domain import errors
from domain.approval import DecideInput, Decision, ResubmitInput
from domain.partner import PartnerProfile
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
    excluded: Mapping[str, str] | None = None,
    other_steps: Mapping[str, str] | None = None,
) -> Refusal | None:
    """None when `decision` may be applied to the open step task, else the first refusal.

    `earlier_approvals` maps user -> step they approved earlier in this version;
    `step_approvals` are the users who approved the open step already (quorum all);
    `excluded` maps user -> why they may not decide nor be delegated to (separation of
    duties, `approval_exclusions`); `other_steps` maps user -> a step still to be decided
    they approve or are the escalation target of (no delegation to them). Both empty: the
    rules before separation of duties.
    """
    if task is None:
        return Refusal(errors.CONFLICT, "no open decision step")
    if decision.task_id is not None and decision.task_id != task.task_id:
        return Refusal(
            errors.CONFLICT, f"stale task {decision.task_id}: the open task is {task.task_id}"
        )
    who = decision.decided_by
    excluded = excluded or {}
    if who in excluded:
        return Refusal(
            errors.FORBIDDEN,
            f"separation of duties: {who} is {excluded[who]} and may not decide step {task.step}",
        )
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
    return _delegation_refusal(
        decision, task, requester, earlier_approvals, excluded, other_steps or {}
    )


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
    decision: DecideInput,
    task: Task,
    requester: str,
    earlier_approvals: Mapping[str, str],
    excluded: Mapping[str, str],
    other_steps: Mapping[str, str],
) -> Refusal | None:
    target = decision.delegate_to
    if target is None:
        return Refusal(errors.INVALID, "delegate needs delegate_to", "delegate_to")
    if target == decision.decided_by:
        return Refusal(errors.INVALID, "cannot delegate to oneself", "delegate_to")
    if target in excluded:
        return Refusal(
            errors.FORBIDDEN,
            f"cannot delegate: separation of duties: {target} is {excluded[target]}",
            "delegate_to",
        )
    if target in other_steps:
        return Refusal(
            errors.FORBIDDEN,
            f"cannot delegate: {target} is an approver of step {other_steps[target]} of this"
            " approval",
            "delegate_to",
        )
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


# ---- separation of duties -------------------------------------------------------------


def approval_exclusions(
    *, partner_id: str, contact_user: str, conflicted: Collection[str]
) -> dict[str, str]:
    """Who may not decide a partner approval step nor be delegated to, with why: the
    partner's contact user and everyone in `conflicted` (the deal owner and the users bound
    to the partner). The requester is refused by four-eyes (`decision_refusal`)."""
    excluded = dict.fromkeys(conflicted, f"the deal owner or a user of partner {partner_id}")
    excluded[contact_user] = f"the contact user of partner {partner_id}"
    return excluded


def plan_approval_refusal(who: str, *, owner: str | None) -> Refusal | None:
    """The owner does not decide on their own plan, even when named a plan approver."""
    if owner is not None and who == owner:
        return Refusal(
            errors.FORBIDDEN,
            f"separation of duties: {who} owns the deal and may not decide on its plan",
        )
    return None


def signatory_refusal(
    signatory: str,
    *,
    owner: str | None,
    owner_may_sign: bool,
    partner_id: str,
    partner_users: Collection[str],
) -> Refusal | None:
    """None when `signatory` may sign the contract for the licensor, else why not."""
    if signatory in partner_users:
        return Refusal(
            errors.FORBIDDEN,
            f"separation of duties: licensor signatory {signatory} is a user of partner"
            f" {partner_id}",
            "licensor_signatory",
        )
    if owner is not None and signatory == owner and not owner_may_sign:
        return Refusal(
            errors.FORBIDDEN,
            f"separation of duties: licensor signatory {signatory} owns the deal"
            " (owner_may_sign is not set)",
            "licensor_signatory",
        )
    return None


def keep_licensor_assessment(revised: PartnerProfile, stored: PartnerProfile) -> PartnerProfile:
    """`revised` with the licensor-owned fields of `stored` (its evaluation scores and risk
    flags): the partner's descriptive fields (name, contact, scope, insurance) may change,
    its own evaluation figures are never used."""
    risk = revised.risk.model_copy(update={"flags": list(stored.risk.flags)})
    return revised.model_copy(update={"evaluation": stored.evaluation, "risk": risk})


def self_scored_fields(revised: PartnerProfile, stored: PartnerProfile) -> list[str]:
    """The licensor-owned fields a resubmission tried to change (ignored, then noted)."""
    changed = []
    if revised.evaluation != stored.evaluation:
        changed.append("evaluation")
    if list(revised.risk.flags) != list(stored.risk.flags):
        changed.append("risk.flags")
    return changed
