"""PartnerApproval: screen a partner, then walk the approver chain with SLAs and four-eyes.

Decisions arrive as the `decide` Update (validated) or the `decide_signal` signal (ops
tooling; refused ones are recorded in the trail, not applied). `needs_revision` waits for
a revised profile (decision `resubmit` with the profile) and starts again at step 1 as the
next version.

Separation of duties (approvals since the `approval-separation-of-duties` patch; the rules
are `domain.approval_rules`): the users conflicted with the partner (`conflicted`, filled by
the deal: its owner and the partner's users, plus the partner's contact user) are dropped
from every step's assignees, and a decision or delegation by or to them is refused, by
update and signal alike; a delegate cannot approve a step still to come either. A step left
without an eligible approver goes to its escalation target when that one is eligible, or
else rejects the partner with the reason. A resubmitted profile keeps the licensor's
evaluation and risk flags and is stored as the partner's next version (patch
`partner-revision-stored`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain import errors
from domain.activity_io import AuditEntry, Notification, RespondersQuery
from domain.approval import (
    ApprovalStep,
    DecideInput,
    Decision,
    PartnerApprovalInput,
    PartnerApprovalResult,
    PartnerApprovalState,
    ResubmitInput,
    ScreeningResult,
    TrailEntry,
)
from domain.approval_messages import (
    DECISIONS,
    RESUBMIT,
    ApprovalOutcome,
    ApprovalStatus,
    ScreenPartnerInput,
    StorePartnerVersionInput,
    WithdrawInput,
)
from domain.approval_rules import (
    Refusal,
    approval_exclusions,
    decision_refusal,
    keep_licensor_assessment,
    resubmit_refusal,
    self_scored_fields,
)
from domain.durations import parse_duration
from domain.partner import PartnerProfile
from domain.read_model_io import ApprovalReadModelWrite
from domain.tasks import INCIDENT_TASK_PREFIX, Task, TaskKind
from workflows.activity_options import (
    LOOKUP,
    STORE,
    ActivityOptions,
    ApprovalActivities,
    CommonActivities,
    call,
    call_or_park,
    failure_text,
)
from workflows.human_tasks import TaskBoard, wait_with_sla
from workflows.patches import (
    APPROVAL_SEPARATION_OF_DUTIES,
    PARTNER_REVISION_STORED,
    READ_MODEL,
    RESUBMIT_BY_DECIDE_SIGNAL,
)
from workflows.read_model import ReadModelActivities, ReadModelWriter
from workflows.refusals import check_at_edge, refusal_error, refuse
from workflows.search_attributes import DEAL_HEALTH, LICENSING_PARTNER, PENDING_APPROVERS

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

REVISION_STEP = "revision"
EXPIRY_IN_SLAS = 6
"""No decision within 6xSLA of a task opening ends the approval (remind 1x, escalate 2x)."""

FINAL: Mapping[ApprovalStatus, ApprovalOutcome] = MappingProxyType(
    {"approved": "approved", "rejected": "rejected", "withdrawn": "withdrawn"}
)
"""The final statuses, as the outcome each one reports."""


def _check_chain(chain: list[ApprovalStep]) -> None:
    names = [s.step for s in chain]
    if len(set(names)) != len(names) or REVISION_STEP in names:
        raise refuse(
            f"approval steps must have unique names other than {REVISION_STEP!r}: {names}",
            errors.INVALID,
        )


@workflow.defn(name="PartnerApproval")
class PartnerApprovalWorkflow:
    """One partner, one deal scope, one approver chain; versioned by revisions."""

    @workflow.init
    def __init__(self, params: PartnerApprovalInput) -> None:
        self._params = params
        self._partner = params.partner
        self._version = params.version
        self._sla = parse_duration(params.decision_sla).approx()
        self._status: ApprovalStatus = "screening"
        self._screening: ScreeningResult | None = None
        self._board = TaskBoard()
        self._trail: list[TrailEntry] = []
        self._step: ApprovalStep | None = None
        self._task_id: str | None = None
        self._required: list[str] = []
        self._step_approvals: list[str] = []
        self._earlier_approvals: dict[str, str] = {}
        self._step_outcome: Decision | None = None
        self._revision: ResubmitInput | None = None
        self._withdrawal: WithdrawInput | None = None
        self._outcome_reasons: list[str] = []
        self._published: tuple[str, tuple[str, ...]] | None = None
        self._incident: Task | None = None
        self._incidents = 0
        self._retry: DecideInput | None = None
        self._health = "ok"
        self._duties = workflow.patched(APPROVAL_SEPARATION_OF_DUTIES)
        """Separation of duties applies (asked once, when the approval starts: validators
        may not ask, and a signal must replay as it was decided)."""
        self._read_model = ReadModelWriter(
            ReadModelActivities.write_approval_read_model,
            self._read_model_delta,
            on=workflow.patched(READ_MODEL),
        )
        """Status and open tasks in the Postgres read model (the inbox), asked once."""
        self._board.on_change = self._read_model.mark
        self._written: tuple[str, list[Task]] | None = None
        """(status, open tasks) as last written to the read model."""
        self._written_seq = 0

    @workflow.run
    async def run(self, params: PartnerApprovalInput) -> PartnerApprovalResult:
        _check_chain(params.chain)
        self._read_model.start()
        while self._status not in FINAL:
            await self._screen()
            if self._status not in FINAL:
                await self._run_chain()
            if self._status == "awaiting_revision":
                await self._await_revision()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._audit_completion()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._read_model.stop()
        return self._result()

    # -- messages -----------------------------------------------------------------------

    @workflow.query
    def state(self) -> PartnerApprovalState:
        """Status, open tasks and decision trail (the result once finished)."""
        return PartnerApprovalState(
            deal_id=self._params.deal_id,
            partner_id=self._partner.partner_id,
            status=self._status,
            version=self._version,
            screening=self._screening,
            current_step=self._step.step if self._step else None,
            open_tasks=self._board.open_tasks(),
            trail=list(self._trail),
            result=self._result() if self._status in FINAL else None,
        )

    @workflow.update
    async def decide(self, decision: DecideInput) -> PartnerApprovalState:
        """A decision on the open task (a step's approve | reject | needs_revision | delegate,
        or `resubmit` with the revised profile); the state once applied and audited."""
        refusal = self._refusal(decision)
        if refusal is not None:
            raise refusal_error(refusal)
        await self._apply_and_audit(decision)
        await self._read_model.flushed()  # read-your-writes: the inbox shows the decision
        return self.state()

    @decide.validator
    def _validate_decide(self, decision: DecideInput) -> None:
        check_at_edge(decision)
        refusal = self._refusal(decision)
        if refusal is not None:
            raise refusal_error(refusal)

    @workflow.signal
    async def decide_signal(self, decision: DecideInput) -> None:
        """The same decision for ops tooling: refused ones are recorded, not applied."""
        if decision.decision is Decision.RESUBMIT and not workflow.patched(
            RESUBMIT_BY_DECIDE_SIGNAL
        ):
            return
        refusal = self._refusal(decision)
        if refusal is None:
            await self._apply_and_audit(decision)
            return
        entry = self._record(
            self._step.step if self._step else "-",
            decision.decided_by,
            decision.decision.value,
            comment=decision.comment,
            delegate_to=decision.delegate_to,
            applied=False,
            note=f"{refusal.error_type}: {refusal.message}",
        )
        await self._audit(entry, "partner_approval.decision_refused")

    @workflow.update
    async def resubmit(self, resubmit: ResubmitInput) -> PartnerApprovalState:
        """Kept for running approvals: `decide` with `resubmit` does the same."""
        refusal = self._resubmit_refusal(resubmit)
        if refusal is not None:
            raise refusal_error(refusal)
        await self._apply_resubmit(resubmit)
        await self._read_model.flushed()
        return self.state()

    @resubmit.validator
    def _validate_resubmit(self, resubmit: ResubmitInput) -> None:
        check_at_edge(resubmit)
        refusal = self._resubmit_refusal(resubmit)
        if refusal is not None:
            raise refusal_error(refusal)

    @workflow.signal
    async def withdraw(self, withdrawal: WithdrawInput) -> None:
        """End the approval as withdrawn (the parent deal or the requester gave up)."""
        applied = self._status not in FINAL and self._withdrawal is None
        if applied:
            self._withdrawal = withdrawal
        entry = self._record(
            self._step.step if self._step else "-",
            withdrawal.requested_by,
            "withdraw",
            comment=withdrawal.reason,
            applied=applied,
            note=None if applied else f"{errors.CONFLICT}: approval is {self._status} already",
        )
        await self._audit(entry, "partner_approval.withdraw")

    # -- phases -------------------------------------------------------------------------

    async def _screen(self) -> None:
        self._status, self._step = "screening", None
        self._publish()
        result = await self._activity(
            ApprovalActivities.screen_partner,
            ScreenPartnerInput(
                deal_id=self._params.deal_id,
                partner=self._partner,
                scope=self._params.scope,
                settings=self._params.screening,
            ),
            LOOKUP,
        )
        self._screening = result
        entry = self._record(
            "screening",
            "system",
            "passed" if result.passed else "failed",
            note=f"score {result.score:.2f}" + "".join(f"; {r}" for r in result.reasons),
        )
        await self._audit(entry, "partner_approval.screened")
        if self._withdrawal is not None:
            self._finish_withdrawn()
        elif not result.passed:
            self._finish("rejected", list(result.reasons))

    async def _run_chain(self) -> None:
        self._earlier_approvals = {}
        for step in self._params.chain:
            outcome = await self._run_step(step)
            if outcome is not Decision.APPROVE:
                return
            self._earlier_approvals.update(dict.fromkeys(self._step_approvals, step.step))
        self._finish("approved", [])

    async def _run_step(self, step: ApprovalStep) -> Decision | None:
        """Open the step's task and wait; the outcome, or None when it ended otherwise."""
        self._step, self._step_outcome = step, None
        approvers = self._eligible(step)
        if not approvers:
            await self._no_eligible_approver(step)
            return None
        self._required, self._step_approvals = list(approvers), []
        task = self._board.open(
            local_id=f"{step.step}-v{self._version}",
            kind=TaskKind.PARTNER_APPROVAL,
            deal_id=self._params.deal_id,
            title=f"Approve partner {self._partner.partner_id} ({step.step})",
            assignees=approvers,
            due_in=self._sla,
            allowed_decisions=list(DECISIONS),
            step=step.step,
            version=self._version,
        )
        dropped = [a for a in step.approvers if a not in approvers]
        if dropped:
            self._board.note(
                task.task_id,
                "excluded",
                detail=f"{', '.join(dropped)} (separation of duties)",
            )
        self._task_id, self._status = task.task_id, "awaiting_decision"
        self._publish()
        waited = await wait_with_sla(
            lambda: self._step_outcome is not None or self._withdrawal is not None,
            self._sla,
            remind=self._remind,
            escalate=self._escalate,
            expire_after=self._sla * (EXPIRY_IN_SLAS - 2),
        )
        self._task_id = None
        outcome = self._step_outcome
        if outcome is Decision.REJECT:
            self._finish("rejected", [self._rejection_reason(step.step)])
        elif outcome is Decision.NEEDS_REVISION:
            self._status = "awaiting_revision"
        elif outcome is None and self._withdrawal is not None:
            self._finish_withdrawn()
        elif waited == "expired":
            await self._expire(task.task_id, f"expired at step {step.step}")
        return outcome

    def _excluded(self) -> dict[str, str]:
        """Who may not decide nor be delegated to, with why (none before the patch)."""
        if not self._duties:
            return {}
        return approval_exclusions(
            partner_id=self._partner.partner_id,
            contact_user=self._partner.contact_user,
            conflicted=self._params.conflicted,
        )

    def _eligible(self, step: ApprovalStep) -> list[str]:
        """The step's approvers without the excluded users; none left: its escalation
        target when eligible."""
        excluded = self._excluded()
        eligible = [a for a in step.approvers if a not in excluded]
        if not eligible and step.escalate_to and step.escalate_to not in excluded:
            eligible = [step.escalate_to]
        return eligible

    def _later_approvers(self) -> dict[str, str]:
        """Approvers and escalation targets of the steps after the open one, with their
        step (no delegation to them: they would approve two steps). None before the patch."""
        if not self._duties or self._step is None:
            return {}
        later = self._params.chain[self._params.chain.index(self._step) + 1 :]
        found: dict[str, str] = {}
        for step in later:
            for approver in [*step.approvers, *([step.escalate_to] if step.escalate_to else [])]:
                found.setdefault(approver, step.step)
        return found

    async def _no_eligible_approver(self, step: ApprovalStep) -> None:
        excluded = self._excluded()
        names = ", ".join(a for a in step.approvers if a in excluded)
        reason = (
            f"no eligible approver at step {step.step}: {names} excluded (separation of duties)"
        )
        entry = self._record(step.step, "system", "no_eligible_approver", note=reason)
        self._finish("rejected", [reason])
        await self._audit(entry, "partner_approval.no_eligible_approver")

    async def _await_revision(self) -> None:
        contact = self._partner.contact_user
        task = self._board.open(
            local_id=f"{REVISION_STEP}-v{self._version}",
            kind=TaskKind.PARTNER_REVISION,
            deal_id=self._params.deal_id,
            title=f"Revise partner {self._partner.partner_id} profile",
            assignees=[self._params.requester, contact],
            due_in=self._sla,
            allowed_decisions=[RESUBMIT],
            step=REVISION_STEP,
            version=self._version,
        )
        self._step, self._task_id, self._revision = None, task.task_id, None
        self._publish()
        waited = await wait_with_sla(
            lambda: self._revision is not None or self._withdrawal is not None,
            self._sla,
            remind=self._remind,
            escalate=self._escalate,
            expire_after=self._sla * (EXPIRY_IN_SLAS - 2),
        )
        self._task_id = None
        if self._revision is not None:
            if workflow.patched(PARTNER_REVISION_STORED):
                self._partner = await self._store_revision(self._revision)
            else:
                self._partner = self._revision.profile
            self._version += 1
            self._revision = None
        elif self._withdrawal is not None:
            self._finish_withdrawn()
        elif waited == "expired":
            await self._expire(task.task_id, "expired awaiting revision")

    async def _store_revision(self, revision: ResubmitInput) -> PartnerProfile:
        """The resubmitted profile with the licensor's evaluation and risk flags, stored as
        the partner's next version (the store keeps the assessment it holds then); the
        partner's own figures are never used, and noted in the trail when it sent some."""
        current = self._partner
        ignored = self_scored_fields(revision.profile, current)
        if ignored:
            entry = self._record(
                REVISION_STEP,
                "system",
                "assessment_kept",
                note=f"kept the licensor's {' and '.join(ignored)}; submitted figures ignored",
            )
            await self._audit(entry, "partner_approval.assessment_kept")
        workflow_id = workflow.info().workflow_id
        stored = await self._activity(
            ApprovalActivities.store_partner_version,
            StorePartnerVersionInput(
                idempotency_key=f"{workflow_id}/v{self._version}/revision",
                deal_id=self._params.deal_id,
                workflow_id=workflow_id,
                submitted_by=revision.submitted_by,
                profile=keep_licensor_assessment(revision.profile, current),
            ),
            STORE,
        )
        return stored.profile

    # -- decisions ----------------------------------------------------------------------

    def _open_task(self) -> Task | None:
        task = self._board.get(self._task_id) if self._task_id else None
        return task if task is not None and task.closed_at is None else None

    def _refusal(self, decision: DecideInput) -> Refusal | None:
        """Why `decision` cannot be applied now (routed by decision), or None."""
        if decision.decision is Decision.RETRY:
            return self._retry_refusal(decision)
        if decision.decision is not Decision.RESUBMIT:
            return self._decision_refusal(decision)
        if decision.profile is None:
            return Refusal(errors.INVALID, "a resubmission needs the revised profile", "profile")
        refusal = self._resubmit_refusal(_resubmission(decision))
        if refusal is None and decision.task_id not in (None, self._task_id):
            return Refusal(
                errors.CONFLICT, f"stale task {decision.task_id}: the open task is {self._task_id}"
            )
        return refusal

    async def _apply_and_audit(self, decision: DecideInput) -> None:
        if decision.decision is Decision.RETRY:
            assert self._incident is not None
            self._retry = decision
            self._board.close(self._incident.task_id, "retry", by=decision.decided_by)
            entry = self._record("incident", decision.decided_by, "retry", comment=decision.comment)
            self._publish()
            await self._audit(entry, "partner_approval.incident_retry")
            return
        if decision.decision is Decision.RESUBMIT:
            await self._apply_resubmit(_resubmission(decision))
            return
        entry = self._apply(decision)
        await self._audit(entry, "partner_approval.decision")

    async def _apply_resubmit(self, resubmit: ResubmitInput) -> None:
        self._revision = resubmit
        if self._task_id is not None:
            self._board.close(self._task_id, RESUBMIT, by=resubmit.submitted_by)
            self._task_id = None
        entry = self._record(
            REVISION_STEP, resubmit.submitted_by, RESUBMIT, comment=resubmit.comment
        )
        self._publish()
        await self._audit(entry, "partner_approval.resubmitted")

    def _retry_refusal(self, decision: DecideInput) -> Refusal | None:
        incident = self._incident
        if incident is None or self._retry is not None:
            return Refusal(errors.CONFLICT, "no incident is waiting for a retry")
        if decision.task_id is not None and decision.task_id != incident.task_id:
            return Refusal(errors.CONFLICT, f"stale task {decision.task_id}")
        if decision.decided_by not in incident.assignees:
            return Refusal(
                errors.FORBIDDEN, f"{decision.decided_by} is not assigned to the incident"
            )
        return None

    def _decision_refusal(self, decision: DecideInput) -> Refusal | None:
        open_step = (
            self._status == "awaiting_decision"
            and self._step_outcome is None
            and self._withdrawal is None
        )
        return decision_refusal(
            decision,
            task=self._open_task() if open_step else None,
            requester=self._params.requester,
            earlier_approvals=self._earlier_approvals,
            step_approvals=self._step_approvals,
            excluded=self._excluded(),
            other_steps=self._later_approvers(),
        )

    def _resubmit_refusal(self, resubmit: ResubmitInput) -> Refusal | None:
        return resubmit_refusal(
            resubmit,
            awaiting_revision=self._status == "awaiting_revision" and self._revision is None,
            requester=self._params.requester,
            contact_user=self._partner.contact_user,
            partner_id=self._partner.partner_id,
        )

    def _apply(self, decision: DecideInput) -> TrailEntry:
        """Apply a valid decision to the open step (synchronously, before any await)."""
        assert self._step is not None and self._task_id is not None
        step, task_id, who = self._step, self._task_id, decision.decided_by
        entry = self._record(
            step.step,
            who,
            decision.decision.value,
            comment=decision.comment,
            delegate_to=decision.delegate_to,
        )
        if decision.decision is Decision.DELEGATE:
            target = decision.delegate_to
            assert target is not None
            task = self._board.get(task_id)
            assert task is not None
            self._required = [target if a == who else a for a in self._required]
            self._board.note(
                task_id,
                "delegated",
                by=who,
                detail=f"to {target}",
                assignees=[target if a == who else a for a in task.assignees],
            )
        elif decision.decision is Decision.APPROVE:
            self._step_approvals.append(who)
            # An escalation assignee (not a required approver) decides the step alone.
            complete = (
                step.quorum == "any"
                or who not in self._required
                or set(self._required) <= set(self._step_approvals)
            )
            if complete:
                self._complete_step(decision)
            else:
                self._board.note(task_id, "approved", by=who, detail=decision.comment)
        else:
            self._complete_step(decision)
        self._publish()
        return entry

    def _complete_step(self, decision: DecideInput) -> None:
        assert self._task_id is not None
        self._step_outcome = decision.decision
        self._board.close(
            self._task_id,
            decision.decision.value,
            by=decision.decided_by,
            detail=decision.comment,
        )

    def _rejection_reason(self, step: str) -> str:
        entry = next(
            e for e in reversed(self._trail) if e.applied and e.decision == Decision.REJECT
        )
        return f"rejected at step {step} by {entry.actor}: {entry.comment}"

    # -- SLA ----------------------------------------------------------------------------

    async def _remind(self) -> None:
        task = self._open_task()
        if task is None:
            return
        self._board.note(task.task_id, "reminded", detail=", ".join(task.assignees))
        self._publish()
        await self._notify(task, "reminder", task.assignees)

    async def _escalate(self) -> None:
        task = self._open_task()
        if task is None:
            return
        target = self._step.escalate_to if self._step else None
        if target in self._excluded():
            target = None  # separation of duties: not made an assignee
        recipients = [target] if target else [self._params.requester]
        self._board.note(
            task.task_id,
            "escalated",
            detail=", ".join(recipients),
            assignees=[*task.assignees, target] if target else None,
        )
        self._publish()
        await self._notify(task, "escalation", recipients)

    async def _expire(self, task_id: str, reason: str) -> None:
        self._board.close(task_id, "expired", detail=reason)
        entry = self._record(
            self._step.step if self._step else REVISION_STEP, "system", "expired", note=reason
        )
        self._finish("rejected", [reason])
        await self._audit(entry, "partner_approval.expired")

    # -- outcome ------------------------------------------------------------------------

    def _finish(self, outcome: ApprovalStatus, reasons: list[str]) -> None:
        for task in self._board.open_tasks():
            self._board.close(task.task_id, outcome)
        self._status, self._outcome_reasons = outcome, reasons
        self._step, self._task_id = None, None
        self._publish()

    def _finish_withdrawn(self) -> None:
        withdrawal = self._withdrawal
        assert withdrawal is not None
        reason = f"withdrawn by {withdrawal.requested_by}"
        self._finish(
            "withdrawn", [f"{reason}: {withdrawal.reason}" if withdrawal.reason else reason]
        )

    def _result(self) -> PartnerApprovalResult:
        return PartnerApprovalResult(
            deal_id=self._params.deal_id,
            partner_id=self._partner.partner_id,
            outcome=FINAL[self._status],
            score=self._screening.score if self._screening else 0.0,
            reasons=list(self._outcome_reasons),
            version=self._version,
            trail=list(self._trail),
        )

    # -- incidents ----------------------------------------------------------------------

    async def _activity(
        self,
        method: Callable[[Any, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        options: ActivityOptions,
    ) -> ResultT:
        """The activity's result; a final failure parks the approval until ops retry."""
        return await call_or_park(method, arg, options, self._park)

    async def _park(self, what: str, error: ActivityError) -> None:
        """Same policy as the deal (`workflows.deal.incidents`): blocked, an incident task for
        ops with reminder and escalation and no expiry; returns on `retry`."""
        self._incidents += 1
        incident = f"{what}: {failure_text(error)}"[:500]
        try:
            found = await call(CommonActivities.incident_responders, RespondersQuery(), LOOKUP)
            responders = found.users or [self._params.requester]
        except ActivityError:
            responders = [self._params.requester]
        self._incident = self._board.open(
            local_id=f"{INCIDENT_TASK_PREFIX}{self._incidents}",
            kind=TaskKind.INCIDENT,
            deal_id=self._params.deal_id,
            title=f"Partner approval of {self._partner.partner_id} is blocked: {incident}",
            assignees=responders,
            due_in=self._sla,
            allowed_decisions=[Decision.RETRY.value],
            step="incident",
            version=self._version,
        )
        self._retry, self._health = None, "blocked"
        self._record("incident", "system", "blocked", note=incident)
        self._publish()
        task = self._incident

        async def remind() -> None:
            self._board.note(task.task_id, "reminded")
            with contextlib.suppress(ActivityError):
                await self._notify(task, "reminder", task.assignees)

        async def escalate() -> None:
            self._board.note(task.task_id, "escalated", detail=self._params.requester)
            with contextlib.suppress(ActivityError):
                await self._notify(task, "escalation", [self._params.requester])

        await wait_with_sla(
            lambda: self._retry is not None, self._sla, remind=remind, escalate=escalate
        )
        self._incident, self._health = None, "ok"
        self._publish()

    # -- side effects -------------------------------------------------------------------

    def _record(
        self,
        step: str,
        actor: str,
        decision: str,
        *,
        comment: str | None = None,
        delegate_to: str | None = None,
        applied: bool = True,
        note: str | None = None,
    ) -> TrailEntry:
        entry = TrailEntry(
            at=workflow.now(),
            version=self._version,
            step=step,
            actor=actor,
            decision=decision,
            comment=comment,
            delegate_to=delegate_to,
            applied=applied,
            note=note,
        )
        self._trail.append(entry)
        return entry

    async def _audit(self, entry: TrailEntry, action: str) -> None:
        workflow_id = workflow.info().workflow_id
        number = next(i for i, e in enumerate(self._trail, 1) if e is entry)
        await self._activity(
            CommonActivities.record_audit,
            AuditEntry(
                idempotency_key=f"{workflow_id}/v{entry.version}/{entry.step}/{number}",
                actor=entry.actor,
                action=action,
                deal_id=self._params.deal_id,
                workflow_id=workflow_id,
                subject=f"partner:{self._partner.partner_id}",
                detail=entry.model_dump(mode="json"),
            ),
            STORE,
        )

    async def _audit_completion(self) -> None:
        result = self._result()
        workflow_id = workflow.info().workflow_id
        await self._activity(
            CommonActivities.record_audit,
            AuditEntry(
                idempotency_key=f"{workflow_id}/v{result.version}/result",
                actor="system",
                action=f"partner_approval.{result.outcome}",
                deal_id=self._params.deal_id,
                workflow_id=workflow_id,
                subject=f"partner:{result.partner_id}",
                detail={"score": result.score, "reasons": result.reasons},
            ),
            STORE,
        )

    async def _notify(self, task: Task, kind: str, recipients: list[str]) -> None:
        workflow_id = workflow.info().workflow_id
        due = task.due_at.strftime("%Y-%m-%d %H:%M UTC")
        await asyncio.gather(
            *(
                call(
                    CommonActivities.send_notification,
                    Notification(
                        idempotency_key=f"{task.task_id}/{kind}/{recipient}",
                        recipient=recipient,
                        kind=kind,
                        subject=f"{kind.capitalize()}: {task.title}",
                        body=f"Task {task.task_id} was due {due}.",
                        deal_id=self._params.deal_id,
                        workflow_id=workflow_id,
                    ),
                    STORE,
                )
                for recipient in recipients
            )
        )

    def _publish(self) -> None:
        """Search attributes (when changed) and current details for the Temporal UI."""
        pending = tuple(self._board.pending_approvers())
        partner_id = self._partner.partner_id
        health = [DEAL_HEALTH.value_set(self._health)] if self._incidents else []
        if self._published != (partner_id, pending) or health:
            self._published = (partner_id, pending)
            workflow.upsert_search_attributes(
                [
                    *health,
                    LICENSING_PARTNER.value_set(partner_id),
                    PENDING_APPROVERS.value_set(list(pending))
                    if pending
                    else PENDING_APPROVERS.value_unset(),
                ]
            )
        workflow.set_current_details(self._details())
        self._read_model.mark()

    def _read_model_delta(self) -> tuple[ApprovalReadModelWrite, Callable[[], None]] | None:
        """Status and open tasks when they differ from the last write (patch `read-model`)."""
        tasks = self._board.open_tasks()
        last = self._written
        if last is not None and last == (self._status, tasks):
            return None
        self._written_seq += 1
        status = self._status
        write = ApprovalReadModelWrite(
            workflow_id=workflow.info().workflow_id,
            deal_id=self._params.deal_id,
            partner_id=self._partner.partner_id,
            status=status,
            seq=self._written_seq,
            tasks=tasks if last is None or last[1] != tasks else None,
        )

        def commit() -> None:
            self._written = (status, tasks)

        return write, commit

    def _details(self) -> str:
        lines = [
            f"**Partner approval** `{self._partner.partner_id}` for deal "
            f"`{self._params.deal_id}` (v{self._version})",
            f"- Status: **{self._status}**",
        ]
        if self._step is not None:
            number = self._params.chain.index(self._step) + 1
            lines.append(
                f"- Step: {self._step.step} ({number} of {len(self._params.chain)},"
                f" quorum {self._step.quorum})"
            )
        for task in self._board.open_tasks():
            lines.append(f"- Assignees: {', '.join(task.assignees)}")
            lines.append(f"- Due: {task.due_at:%Y-%m-%d %H:%M} UTC")
        if self._screening is not None:
            verdict = "passed" if self._screening.passed else "failed"
            lines.append(f"- Screening: score {self._screening.score:.2f} ({verdict})")
        if self._status in FINAL and self._outcome_reasons:
            lines.append(f"- Reasons: {'; '.join(self._outcome_reasons)}")
        return "\n".join(lines)


def _resubmission(decision: DecideInput) -> ResubmitInput:
    """A `resubmit` decision as the resubmission it carries."""
    assert decision.profile is not None
    return ResubmitInput(
        submitted_by=decision.decided_by, profile=decision.profile, comment=decision.comment
    )
