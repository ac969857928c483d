"""Incidents: an activity failed for good (a data error, a refused request), so the deal
parks itself where it is instead of failing.

Rules: the deal shows `DealHealth=blocked` and names the error in its details and state;
an `incident` task goes to the ops and admin users (the owner when there are none) with
the usual reminder and escalation and no expiry: a deal is never ended by a timeout here.
`retry` (after the data or the code is fixed) runs the failed activity again; `terminate`
ends the deal as a termination (final statement, partner notified). An incident during a
termination offers `retry` only. A terminate request while parked ends the deal too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.exceptions import ActivityError

from domain.activity_io import RespondersQuery
from domain.deal_messages import TerminateInput
from domain.tasks import INCIDENT_TASK_PREFIX, TaskKind
from workflows.activity_options import LOOKUP, CommonActivities, call, failure_text
from workflows.deal.stops import Terminated

if TYPE_CHECKING:
    from workflows.deal.run import DealRun

INCIDENT_DECISIONS = ("retry", "terminate")


class Incidents:
    """Park the deal on a failed activity until ops decide."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def park(self, what: str, error: ActivityError) -> None:
        """Returns when ops decide `retry`; raises Terminated for `terminate`."""
        await self.hold(what, failure_text(error))

    async def hold(self, what: str, reason: str) -> None:
        """Park on something other than a failed activity (a refused child start, a
        conflicted signatory): the same incident, naming `what` and `reason`."""
        run, state = self._run, self._run.state
        terminating = state.termination is not None
        state.incidents += 1
        state.health, state.incident = "blocked", f"{what}: {reason}"[:500]
        run.note("incident_opened", detail=state.incident)
        task = run.waits.open(
            f"{INCIDENT_TASK_PREFIX}{state.incidents}",
            TaskKind.INCIDENT,
            f"Deal {run.req.deal_id} is blocked: {state.incident}",
            await self._responders(),
            ["retry"] if terminating else list(INCIDENT_DECISIONS),
        )

        def resolved() -> bool:
            asked_to_end = not terminating and state.termination is not None
            return task.task_id in state.decisions or asked_to_end

        await run.waits.wait(task, resolved, expires=False, interruptible=False)
        others = [
            t
            for t in run.board.open_tasks()
            if t.kind is TaskKind.INCIDENT and t.task_id != task.task_id
        ]
        if not others:  # a nested incident (one of its reminders failed) may remain open
            state.health, state.incident = "ok", None
        if task.task_id not in state.decisions:
            run.board.close(task.task_id, "terminated", detail="terminate requested")
            run.publisher.publish()
            raise Terminated()
        decision = run.take(task.task_id)
        run.note(f"incident_{decision.decision}", by=decision.decided_by, detail=task.task_id)
        run.publisher.publish()
        if decision.decision == "terminate":
            state.termination = TerminateInput(
                requested_by=decision.decided_by,
                reason=decision.comment or f"terminated after incident: {what}",
            )
            raise Terminated()

    async def _responders(self) -> list[str]:
        try:
            found = await call(CommonActivities.incident_responders, RespondersQuery(), LOOKUP)
        except ActivityError:
            return self._run.owners()
        return found.users or self._run.owners()
