"""Compliance tasks: each checked report with unlicensed lines opens one for the owner.

Decisions: `acknowledge` (the unlicensed royalty stands as charged by the deal's policy),
`dispute` (the licensor contests the report with the licensee; noted), `notice_of_breach`
(an early review follows the current period, and the partner is told at that review).
The task does not hold the deal up: it is decided whenever the owner gets to it. Reminder
at half the decision SLA; nobody deciding by the SLA acknowledges it (noted). Runs before
patch `year-books` only notified the owner.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from temporalio import workflow

from domain.deal_activity_io import SalesCheckResult
from domain.deal_messages import COMPLIANCE_DECISIONS, TaskDecisionInput
from domain.tasks import Task, TaskKind

if TYPE_CHECKING:
    from workflows.deal.run import DealRun


class Compliance:
    """Open, remind, expire and apply compliance tasks."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def unlicensed(self, n: int, result: SalesCheckResult) -> None:
        """Notify the owner of unlicensed lines; with year books also open a task."""
        run = self._run
        check = result.check
        if not check.unlicensed_lines:
            return
        run.note("unlicensed_sales", detail=f"period {n}: {check.unlicensed_net_sales} outside")
        if run.year_books:
            lines = "; ".join(f"{u.sku}: {u.why}" for u in check.unlicensed_lines[:5])
            run.waits.open(
                f"compliance-p{n}-v{result.version}",
                TaskKind.COMPLIANCE,
                f"Unlicensed sales in period {n}: {check.unlicensed_net_sales} ({lines})",
                run.owners(),
                COMPLIANCE_DECISIONS,
                version=result.version or 1,
            )
        await run.calls.notify(
            run.owners()[0],
            "unlicensed_sales",
            f"Unlicensed sales in period {n}: {check.unlicensed_net_sales}",
            f"unlicensed-{n}-v{result.version}",
        )

    def apply(self, inp: TaskDecisionInput, task_id: str) -> None:
        """Apply a decision at once (the deal does not wait for compliance tasks)."""
        run = self._run
        run.board.close(task_id, inp.decision, by=inp.decided_by, detail=inp.comment)
        run.note("compliance_decided", by=inp.decided_by, detail=f"{task_id}: {inp.decision}")
        if inp.decision == "notice_of_breach":
            run.state.breach_review = True
        run.publisher.publish()

    def next_deadline(self) -> datetime | None:
        """When the next reminder or expiry of an open compliance task falls due."""
        moments = [self._deadline(t.task_id) for t in self._open()]
        return min((m for m in moments if m is not None), default=None)

    async def sweep(self) -> None:
        """Remind or expire the compliance tasks whose moment has come."""
        run = self._run
        now = workflow.now()
        for task in self._open():
            if now >= task.due_at:
                run.board.close(task.task_id, "acknowledge", detail="default at timeout")
                run.note("compliance_default_acknowledge", detail=task.task_id)
                run.publisher.publish()
            elif not self._reminded(task.task_id) and now >= self._halfway(task.task_id):
                run.board.note(task.task_id, "reminded")
                for user in task.assignees:
                    await run.calls.notify(
                        user, "task_reminder", task.title, f"{task.task_id}:remind"
                    )

    def _open(self) -> list[Task]:
        return [t for t in self._run.board.open_tasks() if t.kind is TaskKind.COMPLIANCE]

    def _deadline(self, task_id: str) -> datetime | None:
        task = self._run.board.get(task_id)
        if task is None:
            return None
        return task.due_at if self._reminded(task_id) else self._halfway(task_id)

    def _halfway(self, task_id: str) -> datetime:
        task = self._run.board.get(task_id)
        assert task is not None
        return task.opened_at + (task.due_at - task.opened_at) / 2

    def _reminded(self, task_id: str) -> bool:
        task = self._run.board.get(task_id)
        return task is not None and any(h.event == "reminded" for h in task.history)
