"""Decisions of people on the deal: validation (update validators and ops signals share
it) and application. One entry point, `decide`, routes by the task's kind; see the table
in `domain.deal_messages`.

Each check raises a typed `ApplicationError` (403/404/409/422 at the API) naming the
input field it refuses; `apply_*` changes the state and returns the condition the
update waits for before it answers.

Separation of duties (runs since the `separation-of-duties` patch, asked once when the run
starts, so a signal replays as it was taken): the owner does not decide a plan approval
task, even when named a plan approver (`domain.approval_rules.plan_approval_refusal`, the
rule the API checks too).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from temporalio import workflow

from domain import errors
from domain.approval_rules import plan_approval_refusal
from domain.deal import Needs, Plan
from domain.deal_messages import (
    OWNER_INPUTS,
    SubmitNeedsInput,
    TaskDecisionInput,
    TerminateInput,
)
from domain.deal_state import Stage
from domain.tasks import Task, TaskKind
from workflows.deal.run import DealRun
from workflows.patches import SEPARATION_OF_DUTIES
from workflows.refusals import refusal_error, refuse

DECIDED_BY_DECIDE_TASK = frozenset(
    {
        TaskKind.PLAN_APPROVAL,
        TaskKind.REVIEW_DECISION,
        TaskKind.RENEWAL_DECISION,
        TaskKind.SIGNATURE_DECISION,
    }
)
"""The kinds the earlier `decide_task` update and signal decide (owner inputs had their own
updates); kept so that histories recorded before `decide` replay the same."""

Done = Callable[[], bool]
"""The condition an update waits for before it returns the deal's state."""


class DealDecisions:
    """Checks and applies every human input of the deal."""

    def __init__(self, run: DealRun) -> None:
        self._run = run
        self.duties = workflow.patched(SEPARATION_OF_DUTIES)
        """Separation of duties applies (asked once, when the run starts: validators may not
        ask, and a signal must replay as it was decided)."""

    # ---- decide: one entry point for every task kind ---------------------------------

    def check(self, inp: TaskDecisionInput, *, kinds: Collection[TaskKind] | None = None) -> Task:
        """The task `inp` decides, or the refusal; `kinds` limits the task kinds accepted
        (the earlier `decide_task` took only `DECIDED_BY_DECIDE_TASK`)."""
        run = self._run
        task = run.board.get(run.full_task_id(inp.task_id))
        if task is None or task.kind not in (TaskKind.INCIDENT, TaskKind.COMPLIANCE):
            # an incident can block the termination or the final steps themselves, and a
            # compliance finding outlives a termination: both stay decidable until the end
            self._check_live()
        elif task.kind is TaskKind.COMPLIANCE and run.state.is_final():
            raise refuse(f"deal is {run.state.stage.value}", errors.CONFLICT)
        if task is None:
            raise refuse(f"no task {inp.task_id}", errors.NOT_FOUND)
        if task.closed_at is not None or task.task_id in run.state.decisions:
            raise refuse(f"task {inp.task_id} is already {task.outcome}", errors.CONFLICT)
        if kinds is not None and task.kind not in kinds:
            raise refuse(f"{task.kind.value} tasks are not decided here", errors.CONFLICT)
        if task.kind is TaskKind.PLAN_APPROVAL and self.duties:
            refusal = plan_approval_refusal(inp.decided_by, owner=run.req.owner)
            if refusal is not None:
                raise refusal_error(refusal)
        if inp.decided_by not in task.assignees:
            raise refuse(f"{inp.decided_by} is not assigned to {inp.task_id}", errors.FORBIDDEN)
        if task.kind in OWNER_INPUTS:
            self._check_owner_input(task, inp)
            return task
        if inp.decision not in task.allowed_decisions:
            allowed = ", ".join(task.allowed_decisions)
            raise refuse(f"decision must be one of {allowed}", errors.INVALID, "decision")
        if task.kind is TaskKind.SIGNATURE:
            raise refuse(
                f"{inp.task_id} is signed through the e-signature provider", errors.CONFLICT
            )
        if inp.decision == "reject" and not (inp.comment and inp.comment.strip()):
            raise refuse("a rejection needs a comment", errors.INVALID, "comment")
        if inp.decision == "amend" and inp.plan is None:
            raise refuse("an amendment needs the new plan", errors.INVALID, "plan")
        if inp.decision == "renew":
            per_year = run.req.schedule.periods_per_year
            if not inp.renew_periods or inp.renew_periods % per_year:
                raise refuse(
                    f"renew_periods must be a multiple of {per_year} periods",
                    errors.INVALID,
                    "renew_periods",
                )
        return task

    def apply(self, inp: TaskDecisionInput) -> Done:
        """Apply a checked decision; the condition its update waits for."""
        run = self._run
        task_id = run.full_task_id(inp.task_id)
        task = run.board.get(task_id)
        assert task is not None
        if task.kind is TaskKind.NEEDS:
            assert inp.needs is not None
            return self.apply_needs(inp.decided_by, inp.needs)
        if task.kind is TaskKind.PLAN_REVISION:
            assert inp.plan is not None
            return self.apply_revision(inp.decided_by, inp.plan, inp.comment)
        if task.kind is TaskKind.PARTNER_SELECTION:
            assert inp.partners is not None
            return self.apply_partners(inp.decided_by, inp.partners)
        if task.kind is TaskKind.COMPLIANCE:
            run.compliance.apply(inp, task_id)
            return lambda: True
        run.state.decisions[task_id] = inp
        run.board.close(task_id, inp.decision, by=inp.decided_by, detail=inp.comment)
        run.note("task_decided", by=inp.decided_by, detail=f"{task_id}: {inp.decision}")
        run.publisher.publish()
        state = run.state
        return lambda: task_id not in state.decisions or state.is_final()

    def _check_owner_input(self, task: Task, inp: TaskDecisionInput) -> None:
        decision, field = OWNER_INPUTS[task.kind]
        if inp.decision != decision:
            raise refuse(f"a {task.kind.value} task takes `{decision}`", errors.INVALID, "decision")
        if getattr(inp, field) is None:
            raise refuse(f"`{decision}` needs `{field}`", errors.INVALID, field)
        if task.kind is TaskKind.NEEDS:
            assert inp.needs is not None
            self.check_needs(SubmitNeedsInput(submitted_by=inp.decided_by, needs=inp.needs))
        elif task.kind is TaskKind.PLAN_REVISION:
            self.check_revision(inp.decided_by)
        else:
            self.check_partners(inp.decided_by)

    # ---- owner inputs ----------------------------------------------------------------

    def check_needs(self, inp: SubmitNeedsInput) -> None:
        state = self._run.state
        self._check_live()
        if state.stage is not Stage.NEEDS_ANALYSIS or state.needs is not None:
            raise refuse("needs were already analysed", errors.CONFLICT)
        self._check_owner(inp.submitted_by)
        kinds = [o.kind for o in inp.needs.objectives]
        if len(kinds) != len(set(kinds)):
            raise refuse("each objective kind may appear once", errors.INVALID, "needs.objectives")

    def apply_needs(self, by: str, needs: Needs) -> Done:
        run, state = self._run, self._run.state
        state.needs = needs
        task = run.board.get(run.task_id("needs"))
        if task is not None and task.closed_at is None:
            run.board.close(task.task_id, "submitted", by=by)
        run.note("needs_submitted", by=by)
        run.publisher.publish()
        return lambda: state.stage is not Stage.NEEDS_ANALYSIS or state.is_final()

    def check_revision(self, by: str) -> None:
        self._check_live()
        if self._run.state.stage is not Stage.PLANNING or self._open_revision() is None:
            raise refuse("no rejected plan is waiting for a revision", errors.CONFLICT)
        self._check_owner(by)

    def apply_revision(self, by: str, plan: Plan, comment: str | None) -> Done:
        run, state = self._run, self._run.state
        revision = self._open_revision()
        assert revision is not None
        state.plan = plan
        state.plan_version += 1
        run.board.close(revision.task_id, "revised", by=by, detail=comment)
        run.note("plan_revised", by=by, detail=f"plan v{state.plan_version}")
        run.publisher.publish()
        approval = run.task_id(f"plan-v{state.plan_version}")
        return lambda: run.board.get(approval) is not None or state.is_final()

    def _open_revision(self) -> Task | None:
        return next(
            (t for t in self._run.board.open_tasks() if t.kind is TaskKind.PLAN_REVISION), None
        )

    def check_partners(self, by: str) -> None:
        state = self._run.state
        self._check_live()
        if state.stage is not Stage.IMPLEMENTATION or state.partner_id is not None:
            raise refuse("partners can only be added before one is approved", errors.CONFLICT)
        self._check_owner(by)

    def apply_partners(self, by: str, partners: list[str]) -> Done:
        run, state = self._run, self._run.state
        pending = set(state.partners[state.partner_index :])
        added = [p for p in dict.fromkeys(partners) if p not in pending]
        state.partners.extend(added)
        for task in run.board.open_tasks():
            if task.kind is TaskKind.PARTNER_SELECTION:
                run.board.close(task.task_id, "partners_added", by=by)
        run.note("partners_added", by=by, detail=", ".join(added))
        run.publisher.publish()
        return lambda: True

    # ---- terminate -------------------------------------------------------------------

    def check_terminate(self, inp: TerminateInput) -> None:
        self._check_live()
        if self._run.state.stage is Stage.WINDING_DOWN:
            raise refuse("the deal is winding down: its final accounting runs", errors.CONFLICT)
        self._check_owner(inp.requested_by)

    def apply_terminate(self, inp: TerminateInput) -> Done:
        state = self._run.state
        state.termination = inp
        self._run.note("terminate_requested", by=inp.requested_by, detail=inp.reason)
        # answered once the termination took effect: final, or winding down (year books)
        return lambda: state.is_final() or state.stage is Stage.WINDING_DOWN

    # ---- shared checks ---------------------------------------------------------------

    def _check_owner(self, user: str) -> None:
        if user not in self._run.owners():
            raise refuse(
                f"{user} is not the owner of deal {self._run.req.deal_id}", errors.FORBIDDEN
            )

    def _check_live(self) -> None:
        state = self._run.state
        if state.is_final() or state.termination is not None:
            raise refuse(f"deal is {state.stage.value}", errors.CONFLICT)
