"""Human tasks of the deal: opening them and waiting with reminder, escalation and expiry."""

from __future__ import annotations

from collections.abc import Callable

from domain.durations import parse_duration
from domain.tasks import Task, TaskKind
from workflows.deal.publishing import Publishing
from workflows.human_tasks import wait_with_sla


class TaskWaits(Publishing):
    """Open a human task and wait for its outcome within the decision SLA."""

    def _open(
        self,
        local: str,
        kind: TaskKind,
        title: str,
        assignees: list[str],
        allowed: list[str],
        *,
        version: int = 1,
    ) -> Task:
        task = self._board.open(
            local_id=local,
            kind=kind,
            deal_id=self._req.deal_id,
            title=title,
            assignees=assignees,
            due_in=parse_duration(self._req.schedule.decision_sla).approx(),
            allowed_decisions=allowed,
            version=version,
        )
        self._note("task_opened", detail=task.task_id)
        self._publish()
        return task

    async def _human_wait(self, task: Task, done: Callable[[], bool]) -> bool:
        """Wait for `done()` with reminder, escalation and expiry; True when expired."""
        sla = parse_duration(self._req.schedule.decision_sla).approx()

        async def remind() -> None:
            self._board.note(task.task_id, "reminded")
            for user in task.assignees:
                await self._notify(user, "task_reminder", task.title, f"{task.task_id}:remind")

        async def escalate() -> None:
            target = self._escalation_target(task)
            self._board.note(task.task_id, "escalated", detail=target)
            await self._notify(target, "task_escalated", task.title, f"{task.task_id}:escalate")

        outcome = await wait_with_sla(
            lambda: done() or self._termination is not None,
            sla,
            remind=remind,
            escalate=escalate,
            expire_after=sla,
        )
        self._raise_if_terminating()
        if outcome == "expired":
            self._board.note(task.task_id, "expired")
            return True
        return False

    def _escalation_target(self, task: Task) -> str:
        """The owner, or for the owner's own tasks the first other plan approver."""
        owner = self._owners()[0]
        if owner not in task.assignees:
            return owner
        others = [u for u in self._req.plan_approvers if u not in task.assignees]
        return others[0] if others else owner
