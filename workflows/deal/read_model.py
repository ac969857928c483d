"""The deal's read model (patch `read-model`): what changed in its `state` view since the
last acknowledged write, as one compact `DealReadModelWrite`.

The baseline is what this run last wrote: the view's scalar keys, the open tasks, the
period records, the last history entry number and the statement list. A run's first write
carries all of them (and the request, so the row can be inserted; the deal's very first
write also its `deal.create` audit row), later ones only what differs. Nothing large is
sent again: history entries once each, periods when their record changes, statements as
ids (their money is in `statements`), the request once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from temporalio import workflow

from domain.deal_state import PeriodRecord, Statement
from domain.read_model_io import DealCreation, DealReadModelWrite, NumberedEntry
from domain.tasks import Task
from workflows.read_model import ReadModelActivities, ReadModelWriter

if TYPE_CHECKING:
    from workflows.deal.run import DealRun

LISTS = frozenset({"open_tasks", "periods", "statements", "history", "request"})
"""`state` view fields written as rows of their own (or, the request, once per run)."""
_ABSENT = object()


class DealReadModel:
    """The deal's writer and the baseline of its deltas."""

    def __init__(self, run: DealRun, *, on: bool) -> None:
        self._run = run
        self.writer = ReadModelWriter(ReadModelActivities.write_deal_read_model, self._build, on=on)
        self._first = True
        self._head: dict[str, Any] = {}
        self._tasks: list[Task] = []
        self._periods: dict[int, PeriodRecord] = {}
        self._history_done = 0
        self._statements: tuple[list[str], list[Statement]] = ([], [])

    def _build(self) -> tuple[DealReadModelWrite, Callable[[], None]] | None:
        run, state = self._run, self._run.state
        first = self._first
        view = run.publisher.view()
        head = view.model_dump(mode="json", exclude=set(LISTS))
        changed = {k: v for k, v in head.items() if first or self._head.get(k, _ABSENT) != v}
        tasks = list(view.open_tasks)
        tasks_changed = first or tasks != self._tasks
        periods = {p.period: p for p in view.periods}
        put = [p for n, p in periods.items() if first or self._periods.get(n) != p]
        dropped = [] if first else [n for n in self._periods if n not in periods]
        notes = state.notes or 0
        history_from = notes - len(state.history) + 1
        new_entries = [
            NumberedEntry(n=history_from + i, entry=entry)
            for i, entry in enumerate(state.history)
            if first or history_from + i > self._history_done
        ]
        ids = [s.statement_id for s in view.statements]
        pending = [
            s for s in view.statements if s.due_at is None or s.statement_id in state.unstored
        ]
        statements_changed = first or (ids, pending) != self._statements
        if not (changed or tasks_changed or put or dropped or new_entries or statements_changed):
            return None
        state.read_model_seq += 1
        write = DealReadModelWrite(
            deal_id=run.req.deal_id,
            workflow_id=workflow.info().workflow_id,
            run_id=workflow.info().run_id,
            seq=state.read_model_seq,
            stage=state.stage,
            partner_id=state.partner_id,
            kpi_status=state.kpi_status,
            health=state.health,
            pending_approvers=run.board.pending_approvers(),
            head=changed,
            creation=DealCreation(
                request=run.req,
                audit=not state.read_model_created,
                created_by=run.created_by,
                request_id=run.request_id,
            )
            if first
            else None,
            tasks=tasks if tasks_changed else None,
            periods=put,
            dropped_periods=dropped,
            replace_periods=first,
            history_from=history_from,
            history=new_entries,
            statement_ids=ids if statements_changed else None,
            pending_statements=pending if statements_changed else None,
        )

        def commit() -> None:
            self._first = False
            self._head.update(changed)
            self._tasks = tasks
            self._periods = periods
            self._history_done = notes
            self._statements = (ids, pending)
            state.read_model_created = True

        return write, commit
