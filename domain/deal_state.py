"""LicensingDeal state: run input and outcome, the state object, and the `state` query view.

`DealWorkflowState` is the one object the workflow holds; it is passed whole to
continue-as-new (`for_next_run` only prunes what the next run no longer needs).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from domain.amendments import PlanAmendment
from domain.common import HistoryEntry, Identifier, Model
from domain.deal import DealRequest, Kpi, Needs, Plan
from domain.deal_messages import SignatureEvent, TaskDecisionInput, TerminateInput
from domain.royalty import Amounts, ContractYearLedger, YearBook
from domain.schedule import contract_year_of
from domain.tasks import Task

HISTORY_IN_MEMORY = 300
"""History entries a run keeps (oldest dropped first)."""
HISTORY_CARRIED = 60
"""History entries carried to the next run at continue-as-new."""


class Stage(StrEnum):
    NEEDS_ANALYSIS = "needs_analysis"
    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    MONITORING = "monitoring"
    MAINTENANCE = "maintenance"
    WINDING_DOWN = "winding_down"
    """Terminated or expired: reports of ended (and sell-off) periods are still accepted
    until the last due date; then the final statement."""
    COMPLETED = "completed"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"


TERMINAL_STAGES = frozenset({Stage.COMPLETED, Stage.TERMINATED, Stage.CANCELLED})


class KpiStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    UNDER = "under"
    MISSING = "missing"
    NOT_STARTED = "not_started"


class PeriodRecord(Model):
    period: int
    contract_year: int
    starts_at: datetime
    ends_at: datetime
    report_due_at: datetime
    status: Literal["open", "reported", "missing", "checked"] = "open"
    net_sales: Decimal = Decimal(0)
    unlicensed_net_sales: Decimal = Decimal(0)
    royalty_earned: Decimal = Decimal(0)
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED
    report_version: int | None = None
    kind: Literal["regular", "partial", "sell_off"] = "regular"
    """`partial`: cut short by a termination; `sell_off`: the contractual sell-off after
    the term (it belongs to the final contract year)."""
    unlicensed_royalty: Decimal = Decimal(0)


StatementKind = Literal["period", "adjustment", "credit_note", "true_up", "final"]
"""`period`: a period's first check; `adjustment`: a late report or a correction that
raises what is owed; `credit_note`: anything that lowers it (negative amount); `true_up`:
the contract-year minimum-guarantee settlement; `final`: the closing account of a deal."""


class Statement(Amounts):
    """A royalty statement (an invoice, or a credit note when `amount_due` is negative)."""

    statement_id: str
    kind: StatementKind
    contract_year: int
    period: int | None = None
    currency: str = "EUR"
    issued_at: datetime
    due_at: datetime | None = None
    """Payment due date (issue date + the deal's payment terms)."""


class YearSummary(Model):
    """One closed contract year, kept after its periods are dropped at continue-as-new."""

    contract_year: int
    net_sales: Decimal = Decimal(0)
    royalty_earned: Decimal = Decimal(0)
    invoiced: Decimal = Decimal(0)
    """Advance credit plus period invoices of the year."""
    true_up: Decimal = Decimal(0)


class ReportKey(Model):
    """A (period, version) of a sales report the workflow has been told about."""

    period: int
    version: int


class WindDown(Model):
    """Why and when the deal stopped (termination or expiry), during final accounting."""

    kind: Literal["terminated", "expired"]
    at: datetime
    final_year: int
    reason: str
    by: str | None = None


class DealWorkflowState(Model):
    """Everything one deal run knows besides its request; mutable, carried whole.

    The run-only fields (decisions, termination, signature, reason) are empty again in
    the next run: continue-as-new happens only after every handler has finished.
    """

    model_config = ConfigDict(extra="forbid", frozen=False)

    stage: Stage
    plan: Plan
    plan_version: int = 1
    needs: Needs | None = None
    partners: list[Identifier] = Field(default_factory=list)
    partner_index: int = 0
    partner_id: str | None = None
    partner_contact: str | None = None
    signature_round: int = 0
    envelope_id: str | None = None
    launched_at: datetime | None = None
    term_periods: int
    next_period: int = 1
    ledger: ContractYearLedger | None = None
    """Runs before patch `year-books`: the open contract year's running totals."""
    books: dict[int, YearBook] = Field(default_factory=dict)
    """Every contract year's book (patch `year-books`), kept until final accounting ends so
    a late report or a correction for any year is billed or credited."""
    wind_down: WindDown | None = None
    unstored: list[str] = Field(default_factory=list)
    """Statements made but not yet stored (their activity was interrupted, e.g. parked on
    an incident when a termination came): issued again before the final statement."""
    breach_review: bool = False
    """A notice of breach was given: an early review follows the current period."""
    periods: dict[int, PeriodRecord] = Field(default_factory=dict)
    statements: list[Statement] = Field(default_factory=list)
    years: list[YearSummary] = Field(default_factory=list)
    kpi_history: list[KpiStatus] = Field(default_factory=list)
    reports: list[ReportKey] = Field(default_factory=list)
    """Every (period, version) signalled; a period's latest is its highest version."""
    tasks: list[Task] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED
    run: int = 1
    corrections: list[int] = Field(default_factory=list)
    """Periods whose late or corrected report was received but not yet re-checked."""
    read_model_created: bool = False
    """The first read-model sync (deal row + `deal.create` audit row) has run."""
    read_model_seq: int = 0
    """Sequence number of the latest read-model write (patch `read-model`); carried across
    continue-as-new, so a deal's writes count up and an older one never overwrites a newer."""
    notes: int | None = None
    """History entries noted so far over every run (numbers the read model's history rows);
    None in a state carried from before the counter (then `len(history)`)."""
    decisions: dict[str, TaskDecisionInput] = Field(default_factory=dict)
    """Task decisions applied by a handler and not yet taken by the lifecycle (by task id)."""
    termination: TerminateInput | None = None
    signature: SignatureEvent | None = None
    """The event that settled the current envelope, if any."""
    reason: str | None = None
    """Why the deal ended (cancelled, terminated, completed)."""
    health: Literal["ok", "blocked"] = "ok"
    """`blocked` while a failed activity waits for ops (an incident task)."""
    incident: str | None = None
    """What failed, while blocked."""
    incidents: int = 0
    """Incidents so far (numbers the incident tasks)."""
    amendment: PlanAmendment | None = None
    """The latest plan amendment proposed at a review (patch `amendment-approval`)."""

    @field_validator("periods", mode="before")
    @classmethod
    def _periods_by_number(cls, value: Any) -> Any:
        """Runs carried before the state object was introduced carry a list."""
        if isinstance(value, list):
            return {(p["period"] if isinstance(p, dict) else p.period): p for p in value}
        return value

    @model_validator(mode="after")
    def _continued_runs_have_a_read_model(self) -> DealWorkflowState:
        if self.run > 1:
            self.read_model_created = True
        return self

    @classmethod
    def first_run(cls, request: DealRequest) -> DealWorkflowState:
        """The state a new deal starts in."""
        return cls(
            stage=Stage.NEEDS_ANALYSIS,
            plan=request.plan,
            needs=request.needs,
            partners=list(request.partners),
            term_periods=request.schedule.term_periods,
        )

    def contract_year(self, periods_per_year: int) -> int:
        """The latest book's (or open ledger's) year, else the year of the next period."""
        if self.books:
            return max(self.books)
        if self.ledger is not None:
            return self.ledger.contract_year
        return contract_year_of(max(self.next_period, 1), periods_per_year)

    def latest_report(self, period: int) -> int:
        """Highest report version signalled for `period` (0: none)."""
        return max((k.version for k in self.reports if k.period == period), default=0)

    def has_report(self, period: int) -> bool:
        """A report version (>= 1) was signalled for `period`."""
        return self.latest_report(period) > 0

    def is_final(self) -> bool:
        return self.stage in TERMINAL_STAGES

    def for_next_run(self, periods_per_year: int) -> DealWorkflowState:
        """This state for the next run: only recent periods, statements, reports, history."""
        year = self.contract_year(periods_per_year)
        periods = {n: p for n, p in self.periods.items() if p.contract_year >= year - 1}
        latest = {k.period: self.latest_report(k.period) for k in self.reports}
        return self.model_copy(
            update={
                "periods": periods,
                "statements": [s for s in self.statements if s.contract_year >= year - 1],
                "kpi_history": self.kpi_history[-2:],
                "reports": [
                    ReportKey(period=p, version=v)
                    for p, v in sorted(latest.items())
                    if v > 0 and (p not in self.periods or self.periods[p].contract_year >= year)
                ],
                "tasks": [t for t in self.tasks if t.closed_at is None],
                "history": self.history[-HISTORY_CARRIED:],
                "run": self.run + 1,
                "decisions": {},
                "termination": None,
                "signature": None,
                "reason": None,
            }
        )


class DealRunInput(Model):
    """Input of LicensingDeal: the API starts it with `DealRunInput(request=...)`; a
    continued run gets the previous run's state as `carry`.

    `created_by`/`request_id` name the caller and HTTP request that started the deal; the
    first read-model sync writes the `deal.create` audit row with them (workflow as outbox).
    """

    request: DealRequest
    carry: DealWorkflowState | None = None
    created_by: str | None = None
    request_id: str | None = None


class DealOutcome(Model):
    """Result of LicensingDeal when the deal reaches a final stage."""

    deal_id: str
    stage: Stage
    reason: str | None = None
    partner_id: str | None = None
    plan_version: int = 1
    contract_year: int = 1
    years: list[YearSummary] = Field(default_factory=list)


class DealState(Model):
    """The `state` query of LicensingDeal (also GET /v1/deals/{id})."""

    deal_id: str
    title: str
    owner: str | None
    stage: Stage
    partner_id: str | None = None
    plan_version: int = 1
    plan: Plan
    kpis: list[Kpi] = Field(default_factory=list)
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED
    launched_at: datetime | None = None
    contract_year: int = 1
    term_periods: int
    open_tasks: list[Task] = Field(default_factory=list)
    periods: list[PeriodRecord] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    envelope_id: str | None = None
    request: DealRequest | None = None
    years: list[YearSummary] = Field(default_factory=list)
    """Closed contract years (their periods are no longer listed in `periods`)."""
    next_period: int | None = None
    health: Literal["ok", "blocked"] = "ok"
    incident: str | None = None
    year_books: bool = False
    """Money by contract-year books: late reports and corrections of any year are billed."""
    first_booked_year: int | None = None
    """The earliest contract year with a book (years before it closed before year books)."""
    wind_down: WindDown | None = None
    amendment: PlanAmendment | None = None
    """The latest plan amendment: pending (awaiting approval or signature; `plan` stays in
    force until it is applied) or how it ended."""
    advance_unrecouped: Decimal | None = None
    """Advance recoupable across the term only: what is still to recoup after the latest
    booked contract year (`domain.royalty.advance_unrecouped`)."""
