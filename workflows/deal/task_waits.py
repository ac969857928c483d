"""Human tasks of the deal: opening them and waiting with reminder, escalation and expiry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from domain.durations import parse_duration
from domain.tasks import Task, TaskKind
from workflows.human_tasks import wait_with_sla

if TYPE_CHECKING:
    from workflows.deal.run import DealRun


class TaskWaits:
    """Open a human task and wait for its outcome within the decision SLA."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    def open(
        self,
        local: str,
        kind: TaskKind,
        title: str,
        assignees: list[str],
        allowed: list[str],
        *,
        version: int = 1,
    ) -> Task:
        run = self._run
        task = run.board.open(
            local_id=local,
            kind=kind,
            deal_id=run.req.deal_id,
            title=title,
            assignees=assignees,
            due_in=parse_duration(run.req.schedule.decision_sla).approx(),
            allowed_decisions=allowed,
            version=version,
        )
        run.note("task_opened", detail=task.task_id)
        run.publisher.publish()
        return task

    async def wait(
        self,
        task: Task,
        done: Callable[[], bool],
        *,
        expires: bool = True,
        interruptible: bool = True,
    ) -> bool:
        """Wait for `done()` with reminder, escalation and expiry; True when expired.

        `expires=False`: after the escalation the wait goes on until done. `interruptible`:
        a terminate request ends the wait (raising Terminated)."""
        run = self._run
        sla = parse_duration(run.req.schedule.decision_sla).approx()

        async def remind() -> None:
            run.board.note(task.task_id, "reminded")
            for user in task.assignees:
                await run.calls.notify(user, "task_reminder", task.title, f"{task.task_id}:remind")

        async def escalate() -> None:
            target = self._escalation_target(task)
            run.board.note(task.task_id, "escalated", detail=target)
            await run.calls.notify(target, "task_escalated", task.title, f"{task.task_id}:escalate")

        def ended() -> bool:
            return done() or (interruptible and run.state.termination is not None)

        outcome = await wait_with_sla(
            ended, sla, remind=remind, escalate=escalate, expire_after=sla if expires else None
        )
        if interruptible:
            run.raise_if_terminating()
        if outcome == "expired":
            run.board.note(task.task_id, "expired")
            return True
        return False

    async def wait_for_decision(self, task: Task) -> bool:
        """Wait until someone decides `task` (see `decide`); True when it expired."""
        decisions = self._run.state.decisions
        return await self.wait(task, lambda: task.task_id in decisions)

    def _escalation_target(self, task: Task) -> str:
        """The owner, or for the owner's own tasks the first other plan approver."""
        owner = self._run.owners()[0]
        if owner not in task.assignees:
            return owner
        others = [u for u in self._run.req.plan_approvers if u not in task.assignees]
        return others[0] if others else owner
