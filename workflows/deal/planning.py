"""Needs analysis and planning: the owner's needs, then plan approval (reject -> revise).

Rules: each human wait expires after the decision SLA's reminder and escalation and then
cancels the deal; a rejected plan goes back to the owner as a `plan_revision` task and the
revised plan is approved as the next version. A deal naming a property reserves the plan's
cells in the rights ledger when it is approved (patch `rights-ledger`): a conflict with
another deal's grant turns the approval into a rejection naming that deal and the cell (the
approver's update answers 409) and the plan goes back to the owner the same way.

Since patch `lean-calls` (asked once, when the run starts) the plan approval's path is
shorter, so the approver's answer comes sooner: the reservation runs as a local activity
(no task-queue round trip and workflow task before the update can answer; when its one
attempt fails it goes to the task queue as before), and a new deal no longer syncs the read
model by an activity before its needs analysis (the run's read-model writer has written the
row and its `deal.create` audit row already).
"""

from __future__ import annotations

from domain.deal_messages import PLAN_DECISIONS, REVISE_PLAN, SUBMIT_NEEDS, TaskDecisionInput
from domain.deal_state import Stage
from domain.tasks import TaskKind
from workflows.deal.run import DealRun
from workflows.deal.stops import Cancelled


class Planning:
    """The stages before a partner is approached."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def needs_analysis(self) -> None:
        run, state = self._run, self._run.state
        if not (run.lean and run.read_model.writer.on):
            await run.calls.sync()
        if state.needs is None:
            task = run.waits.open(
                "needs",
                TaskKind.NEEDS,
                "Submit the needs analysis (objectives and audience)",
                run.owners(),
                [SUBMIT_NEEDS],
            )
            if await run.waits.wait(task, lambda: state.needs is not None):
                raise Cancelled("needs analysis not submitted in time")
        await run.enter(Stage.PLANNING, "needs analysed")

    async def planning(self) -> None:
        run, state = self._run, self._run.state
        while True:
            local = f"plan-v{state.plan_version}"
            task = run.board.get(run.task_id(local)) or run.waits.open(
                local,
                TaskKind.PLAN_APPROVAL,
                f"Approve plan v{state.plan_version} of {run.req.title}",
                list(run.req.plan_approvers),
                PLAN_DECISIONS,
                version=state.plan_version,
            )
            if await run.waits.wait_for_decision(task):
                raise Cancelled(f"plan v{state.plan_version} not approved in time")
            decision = await self._checked(task.task_id)
            if decision.decision == "approve":
                break
            revision = run.waits.open(
                f"revise-v{state.plan_version}",
                TaskKind.PLAN_REVISION,
                f"Revise plan v{state.plan_version}: {decision.comment}",
                run.owners(),
                [REVISE_PLAN],
                version=state.plan_version,
            )
            rejected = state.plan_version

            def revised(rejected: int = rejected) -> bool:
                return state.plan_version > rejected

            if await run.waits.wait(revision, revised):
                raise Cancelled(f"plan v{rejected} rejected and not revised in time")
        await run.enter(Stage.IMPLEMENTATION, f"plan v{state.plan_version} approved")

    async def _checked(self, task_id: str) -> TaskDecisionInput:
        """The decision on the plan task, taken once the rights ledger had its say: an
        approval reserves the plan's cells first; a conflict makes it a rejection naming the
        conflict (the update that approved waits for this and answers 409)."""
        run = self._run
        decision = run.state.decisions[task_id]
        if decision.decision == "approve" and run.rights.on:
            key = f"plan-v{run.state.plan_version}"
            conflict = await run.rights.reserve(key, local=run.lean)
            if conflict is not None:
                run.rights.refuse(task_id, conflict, "the plan goes back to the owner for revision")
                decision = decision.model_copy(
                    update={"decision": "reject", "comment": conflict.message()}
                )
        run.take(task_id)
        if run.rights.on:
            run.raise_if_terminating()
        return decision
