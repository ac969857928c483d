"""LicensingDeal messages (update/signal inputs), statements and the `state` query shape."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from domain.common import Identifier, Model, UserName
from domain.deal import DealRequest, Kpi, Needs, Plan
from domain.sales import SalesReport
from domain.tasks import Task


class Stage(StrEnum):
    NEEDS_ANALYSIS = "needs_analysis"
    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    MONITORING = "monitoring"
    MAINTENANCE = "maintenance"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"


class KpiStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    UNDER = "under"
    MISSING = "missing"
    NOT_STARTED = "not_started"


# ---- update / signal inputs -------------------------------------------------------------


class SubmitNeedsInput(Model):
    submitted_by: UserName
    needs: Needs


class RevisePlanInput(Model):
    submitted_by: UserName
    plan: Plan
    comment: str | None = None


class AddPartnersInput(Model):
    submitted_by: UserName
    partners: list[Identifier] = Field(min_length=1)


class TaskDecisionInput(Model):
    """Update/signal `decide_task` for the deal's own tasks (plan approval, review, renewal,
    declined signature).

    decision per kind: plan_approval approve|reject; review_decision continue|amend|terminate;
    renewal_decision renew|expire; signature_decision resend|cancel. `amend` carries `plan`,
    `renew` carries `renew_periods`.
    """

    task_id: str
    decided_by: UserName
    decision: str
    comment: str | None = Field(default=None, max_length=4000)
    plan: Plan | None = None
    renew_periods: int | None = Field(default=None, ge=1)


class SignatureEvent(Model):
    """Signal `signature_completed` / `signature_declined` from the signing webhook path."""

    envelope_id: str
    event: Literal["completed", "declined", "voided", "sent", "delivered"]
    at: datetime
    by: str | None = None
    reason: str | None = None


class SalesReportReceived(Model):
    """Signal `sales_report_received`: the report is already persisted (version given)."""

    report_id: str
    version: int = 1
    report: SalesReport


class TerminateInput(Model):
    requested_by: UserName
    reason: str = Field(min_length=1, max_length=4000)


# ---- state --------------------------------------------------------------------------------


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


class Statement(Model):
    """A royalty statement: invoice for a period or a contract-year true-up."""

    statement_id: str
    kind: Literal["period", "true_up", "final"]
    contract_year: int
    period: int | None = None
    net_sales: Decimal = Decimal(0)
    royalty_earned: Decimal = Decimal(0)
    guaranteed_due: Decimal = Decimal(0)
    amount_due: Decimal = Decimal(0)
    currency: str = "EUR"
    issued_at: datetime


class YearSummary(Model):
    """One closed contract year, kept after its periods are dropped at continue-as-new."""

    contract_year: int
    net_sales: Decimal = Decimal(0)
    royalty_earned: Decimal = Decimal(0)
    invoiced: Decimal = Decimal(0)
    """Advance credit plus period invoices of the year."""
    true_up: Decimal = Decimal(0)


class HistoryEntry(Model):
    at: datetime
    event: str
    by: str | None = None
    detail: str | None = None


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
