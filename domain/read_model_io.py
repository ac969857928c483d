"""Inputs of the read-model activities (`activities/read_model.py`): compact deltas of what a
workflow's `state` query shows, written after its transitions (`workflows/read_model.py`).

Every write carries the workflow's sequence number; the store ignores a write older than the
one it holds (a retried or late write never regresses a row)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain.common import HistoryEntry, Model
from domain.deal import DealRequest
from domain.deal_state import KpiStatus, PeriodRecord, Stage, Statement
from domain.tasks import Task


class NumberedEntry(Model):
    """A deal history entry with its number (1, 2, ... across the deal's runs)."""

    n: int
    entry: HistoryEntry


class DealCreation(Model):
    """What the first write of a run carries: the row may have to be inserted."""

    request: DealRequest
    audit: bool = False
    """Write the deal's `deal.create` audit row (its very first write)."""
    created_by: str | None = None
    request_id: str | None = None


class DealReadModelWrite(Model):
    """One write of a deal: the row's columns, the view keys that changed, the open tasks
    (when they changed), changed or dropped periods, new history entries and the statement
    list (when it changed)."""

    deal_id: str
    workflow_id: str
    run_id: str
    seq: int
    stage: Stage
    partner_id: str | None = None
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED
    health: str = "ok"
    pending_approvers: list[str] = Field(default_factory=list)
    head: dict[str, Any] = Field(default_factory=dict)
    """Changed keys of the `state` view without its lists (JSON values)."""
    creation: DealCreation | None = None
    tasks: list[Task] | None = None
    """Every open task, in the view's order (None: unchanged)."""
    periods: list[PeriodRecord] = Field(default_factory=list)
    dropped_periods: list[int] = Field(default_factory=list)
    replace_periods: bool = False
    """`periods` are all of them: drop every other period row (a run's first write)."""
    history_from: int = 1
    history: list[NumberedEntry] = Field(default_factory=list)
    statement_ids: list[str] | None = None
    """The view's statements, in order (None: unchanged)."""
    pending_statements: list[Statement] | None = None
    """Listed statements `statements` does not hold as made (sent with `statement_ids`)."""


class ApprovalReadModelWrite(Model):
    """One write of a partner approval: its status and every open task."""

    workflow_id: str
    deal_id: str
    partner_id: str
    status: str
    seq: int
    tasks: list[Task] | None = None
    """Every open task, in order (None: unchanged)."""
