"""Updates from people (owner, approvers) with validators, and their ops-tooling signals.

Each decision is an Update whose validator rejects bad input before it reaches history;
the same decision sent as a signal is checked the same way and, if invalid, only noted.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.deal_messages import TERMINAL_STAGES
from domain.lifecycle import (
    AddPartnersInput,
    DealState,
    RevisePlanInput,
    Stage,
    SubmitNeedsInput,
    TaskDecisionInput,
    TerminateInput,
)
from domain.tasks import Task, TaskKind
from workflows.deal.stops import refuse
from workflows.deal.task_waits import TaskWaits

DECIDABLE = {
    TaskKind.PLAN_APPROVAL,
    TaskKind.REVIEW_DECISION,
    TaskKind.RENEWAL_DECISION,
    TaskKind.SIGNATURE_DECISION,
}


class HumanUpdates(TaskWaits):
    """submit_needs, revise_plan, add_partners, decide_task and terminate."""

    def _check_owner(self, user: str) -> None:
        if user not in self._owners():
            raise refuse(f"{user} is not the owner of deal {self._req.deal_id}", errors.FORBIDDEN)

    def _check_live(self) -> None:
        if self._stage in TERMINAL_STAGES or self._termination is not None:
            raise refuse(f"deal is {self._stage.value}", errors.CONFLICT)

    @workflow.update
    async def submit_needs(self, inp: SubmitNeedsInput) -> DealState:
        """Owner submits the missing needs analysis."""
        self._needs = inp.needs
        task_id = self._task_id("needs")
        if self._board.get(task_id) and not self._board.get(task_id).closed_at:
            self._board.close(task_id, "submitted", by=inp.submitted_by)
        self._note("needs_submitted", by=inp.submitted_by)
        self._publish()
        await workflow.wait_condition(lambda: "needs" in self._acked or self._is_final())
        return self.state()

    @submit_needs.validator
    def _validate_submit_needs(self, inp: SubmitNeedsInput) -> None:
        self._check_live()
        if self._stage is not Stage.NEEDS_ANALYSIS or self._needs is not None:
            raise refuse("needs were already analysed", errors.CONFLICT)
        self._check_owner(inp.submitted_by)
        kinds = [o.kind for o in inp.needs.objectives]
        if len(kinds) != len(set(kinds)):
            raise refuse("each objective kind may appear once", errors.INVALID, "needs.objectives")

    @workflow.update
    async def revise_plan(self, inp: RevisePlanInput) -> DealState:
        """Owner revises a rejected plan: a new plan version goes to approval."""
        revision = self._open_revision()
        assert revision is not None
        self._plan = inp.plan
        self._plan_version += 1
        self._board.close(revision.task_id, "revised", by=inp.submitted_by, detail=inp.comment)
        self._note("plan_revised", by=inp.submitted_by, detail=f"plan v{self._plan_version}")
        self._publish()
        key = f"revise-{self._plan_version}"
        await workflow.wait_condition(lambda: key in self._acked or self._is_final())
        return self.state()

    @revise_plan.validator
    def _validate_revise_plan(self, inp: RevisePlanInput) -> None:
        self._check_live()
        if self._stage is not Stage.PLANNING or self._open_revision() is None:
            raise refuse("no rejected plan is waiting for a revision", errors.CONFLICT)
        self._check_owner(inp.submitted_by)

    def _open_revision(self) -> Task | None:
        return next((t for t in self._board.open_tasks() if t.kind is TaskKind.PLAN_REVISION), None)

    @workflow.update
    async def add_partners(self, inp: AddPartnersInput) -> DealState:
        """Owner adds partner candidates while no partner is approved."""
        pending = set(self._partners[self._partner_index :])
        added = [p for p in dict.fromkeys(inp.partners) if p not in pending]
        self._partners.extend(added)
        for task in self._board.open_tasks():
            if task.kind is TaskKind.PARTNER_SELECTION:
                self._board.close(task.task_id, "partners_added", by=inp.submitted_by)
        self._note("partners_added", by=inp.submitted_by, detail=", ".join(added))
        self._publish()
        return self.state()

    @add_partners.validator
    def _validate_add_partners(self, inp: AddPartnersInput) -> None:
        self._check_live()
        if self._stage is not Stage.IMPLEMENTATION or self._partner_id is not None:
            raise refuse("partners can only be added before one is approved", errors.CONFLICT)
        self._check_owner(inp.submitted_by)

    @workflow.update
    async def decide_task(self, inp: TaskDecisionInput) -> DealState:
        """Decide a plan approval, review, renewal or declined-signature task."""
        task = self._apply_decision(inp)
        await workflow.wait_condition(lambda: task.task_id in self._acked or self._is_final())
        return self.state()

    @decide_task.validator
    def _validate_decide_task(self, inp: TaskDecisionInput) -> None:
        self._check_decision(inp)

    @workflow.signal
    def decide_task_signal(self, inp: TaskDecisionInput) -> None:
        """Ops tooling: same as `decide_task`; invalid decisions are noted, not applied."""
        try:
            self._check_decision(inp)
        except ApplicationError as refused:
            self._note("signal_rejected", by=inp.decided_by, detail=f"decide_task: {refused}")
            return
        self._apply_decision(inp)

    def _check_decision(self, inp: TaskDecisionInput) -> Task:
        self._check_live()
        task = self._board.get(self._full_task_id(inp.task_id))
        if task is None:
            raise refuse(f"no task {inp.task_id}", errors.NOT_FOUND)
        if task.closed_at is not None or task.task_id in self._decisions:
            raise refuse(f"task {inp.task_id} is already {task.outcome}", errors.CONFLICT)
        if task.kind not in DECIDABLE:
            raise refuse(f"{task.kind.value} tasks are not decided here", errors.CONFLICT)
        if inp.decided_by not in task.assignees:
            raise refuse(f"{inp.decided_by} is not assigned to {inp.task_id}", errors.FORBIDDEN)
        if inp.decision not in task.allowed_decisions:
            allowed = ", ".join(task.allowed_decisions)
            raise refuse(f"decision must be one of {allowed}", errors.INVALID, "decision")
        if inp.decision == "reject" and not (inp.comment and inp.comment.strip()):
            raise refuse("a rejection needs a comment", errors.INVALID, "comment")
        if inp.decision == "amend" and inp.plan is None:
            raise refuse("an amendment needs the new plan", errors.INVALID, "plan")
        if inp.decision == "renew":
            per_year = self._req.schedule.periods_per_year
            if not inp.renew_periods or inp.renew_periods % per_year:
                raise refuse(
                    f"renew_periods must be a multiple of {per_year} periods",
                    errors.INVALID,
                    "renew_periods",
                )
        return task

    def _apply_decision(self, inp: TaskDecisionInput) -> Task:
        task_id = self._full_task_id(inp.task_id)
        self._decisions[task_id] = inp
        task = self._board.close(task_id, inp.decision, by=inp.decided_by, detail=inp.comment)
        self._note("task_decided", by=inp.decided_by, detail=f"{task_id}: {inp.decision}")
        self._publish()
        return task

    @workflow.update
    async def terminate(self, inp: TerminateInput) -> DealState:
        """Owner terminates the deal at any stage: final statement, partner notified."""
        self._request_termination(inp)
        await workflow.wait_condition(self._is_final)
        return self.state()

    @terminate.validator
    def _validate_terminate(self, inp: TerminateInput) -> None:
        self._check_live()
        self._check_owner(inp.requested_by)

    @workflow.signal
    def terminate_signal(self, inp: TerminateInput) -> None:
        """Ops tooling: same as `terminate`; invalid requests are noted, not applied."""
        try:
            self._validate_terminate(inp)
        except ApplicationError as refused:
            self._note("signal_rejected", by=inp.requested_by, detail=f"terminate: {refused}")
            return
        self._request_termination(inp)

    def _request_termination(self, inp: TerminateInput) -> None:
        self._termination = inp
        self._note("terminate_requested", by=inp.requested_by, detail=inp.reason)
