"""Human tasks inside a workflow: a task board, and waits with SLA reminder and escalation.

Deterministic helpers shared by PartnerApproval and LicensingDeal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow

from domain.common import HistoryEntry
from domain.tasks import Task, TaskKind


class TaskBoard:
    """Open and closed tasks of one workflow run; task ids are `<workflow_id>:<local id>`.

    The board works on the list it is given (a workflow's state object holds it).
    """

    def __init__(self, tasks: list[Task] | None = None) -> None:
        self._tasks: list[Task] = tasks if tasks is not None else []
        self.on_change: Callable[[], None] | None = None
        """Told of every change of a task (the read-model writer marks itself dirty)."""

    def open(
        self,
        *,
        local_id: str,
        kind: TaskKind,
        deal_id: str,
        title: str,
        assignees: list[str],
        due_in: timedelta,
        allowed_decisions: list[str],
        step: str | None = None,
        version: int = 1,
    ) -> Task:
        info = workflow.info()
        now = workflow.now()
        task = Task(
            task_id=f"{info.workflow_id}:{local_id}",
            kind=kind,
            deal_id=deal_id,
            workflow_id=info.workflow_id,
            title=title,
            assignees=sorted(set(assignees)),
            opened_at=now,
            due_at=now + due_in,
            allowed_decisions=allowed_decisions,
            step=step,
            version=version,
            history=[
                HistoryEntry(at=now, event="opened", detail=", ".join(sorted(set(assignees))))
            ],
        )
        self._put(task)
        return task

    def get(self, task_id: str) -> Task | None:
        return next((t for t in self._tasks if t.task_id == task_id), None)

    def _put(self, task: Task) -> None:
        """Replace the task with the same id in place, or append a new one."""
        if self.on_change is not None:
            self.on_change()
        for index, existing in enumerate(self._tasks):
            if existing.task_id == task.task_id:
                self._tasks[index] = task
                return
        self._tasks.append(task)

    def note(
        self,
        task_id: str,
        event: str,
        *,
        by: str | None = None,
        detail: str | None = None,
        assignees: list[str] | None = None,
        due_at: datetime | None = None,
    ) -> Task:
        """Add a history event; optionally change assignees (delegation, escalation) or due."""
        task = self.get(task_id)
        assert task is not None, task_id
        update: dict[str, object] = {
            "history": [
                *task.history,
                HistoryEntry(at=workflow.now(), event=event, by=by, detail=detail),
            ]
        }
        if assignees is not None:
            update["assignees"] = sorted(set(assignees))
        if due_at is not None:
            update["due_at"] = due_at
        noted = task.model_copy(update=update)
        self._put(noted)
        return noted

    def close(
        self, task_id: str, outcome: str, *, by: str | None = None, detail: str | None = None
    ) -> Task:
        noted = self.note(task_id, f"closed:{outcome}", by=by, detail=detail)
        task = noted.model_copy(update={"closed_at": workflow.now(), "outcome": outcome})
        self._put(task)
        return task

    def open_tasks(self) -> list[Task]:
        return [t for t in self._tasks if t.closed_at is None]

    def pending_approvers(self) -> list[str]:
        """Everyone with an open task: the PendingApprovers search attribute."""
        return sorted({a for t in self.open_tasks() for a in t.assignees})


WaitOutcome = Literal["done", "expired"]


async def wait_with_sla(
    done: Callable[[], bool],
    sla: timedelta,
    *,
    remind: Callable[[], Awaitable[None]],
    escalate: Callable[[], Awaitable[None]],
    expire_after: timedelta | None = None,
) -> WaitOutcome:
    """Wait for `done()`: remind at SLA, escalate at 2xSLA, then expire after `expire_after`.

    With `expire_after=None` the wait continues after escalation until done.
    """
    for on_timeout in (remind, escalate):
        if await _wait(done, sla):
            return "done"
        await on_timeout()
    if expire_after is None:
        await workflow.wait_condition(done)
        return "done"
    return "done" if await _wait(done, expire_after) else "expired"


async def _wait(done: Callable[[], bool], within: timedelta) -> bool:
    try:
        await workflow.wait_condition(done, timeout=within)
        return True
    except TimeoutError:
        return False
