"""LicensingDeal run input, continue-as-new carry, outcome, and its activities' names and I/O."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.common import Identifier, LicensedScope, Model, UserName
from domain.deal import DealRequest, Kpi, Needs, Plan
from domain.lifecycle import (
    HistoryEntry,
    KpiStatus,
    PeriodRecord,
    Stage,
    Statement,
    YearSummary,
)
from domain.royalty import ContractYearLedger
from domain.sales_check import SalesCheck
from domain.tasks import Task

# ---- activity names (workflows call activities by these strings) -------------------------

SYNC_DEAL_READ_MODEL = "sync_deal_read_model"
LOAD_PARTNER = "load_partner"
REQUEST_SIGNATURE = "request_signature"
CHECK_SALES = "check_sales"
ISSUE_STATEMENT = "issue_statement"
COMPILE_REVIEW = "compile_review"

TERMINAL_STAGES = frozenset({Stage.COMPLETED, Stage.TERMINATED, Stage.CANCELLED})

PLAN_DECISIONS = ["approve", "reject"]
REVIEW_DECISIONS = ["continue", "amend", "terminate"]
RENEWAL_DECISIONS = ["renew", "expire"]
SIGNATURE_DECISIONS = ["sign", "decline"]
SIGNATURE_DECLINE_DECISIONS = ["resend", "cancel"]
"""The owner's choice after a declined signature: a new envelope, or cancel the deal."""


def canonical_request_hash(request: DealRequest) -> str:
    """sha256 of the request's canonical JSON (sorted keys, no whitespace)."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


# ---- workflow input / carry / result -----------------------------------------------------


class ReportKey(Model):
    """A (period, version) of a sales report the workflow has been told about."""

    period: int
    version: int


class DealCarry(Model):
    """Everything a continued-as-new run needs; only recent periods/statements are kept."""

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
    periods: list[PeriodRecord] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)
    years: list[YearSummary] = Field(default_factory=list)
    kpi_history: list[KpiStatus] = Field(default_factory=list)
    reports: list[ReportKey] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED
    run: int = 1
    corrections: list[int] = Field(default_factory=list)
    """Periods whose late or corrected report was received but not yet re-checked."""


class DealRunInput(Model):
    """Input of LicensingDeal: the API starts it with `DealRunInput(request=...)`.

    `created_by`/`request_id` name the caller and HTTP request that started the deal; the
    first read-model sync writes the `deal.create` audit row with them (workflow as outbox).
    """

    request: DealRequest
    carry: DealCarry | None = None
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


# ---- activity inputs / outputs -----------------------------------------------------------


class DealReadModelInput(Model):
    """Upsert the deal read model (with `request`, plus its `deal.create` audit row) or just
    move its stage."""

    deal_id: str
    workflow_id: str
    stage: Stage
    partner_id: str | None = None
    kpi_status: KpiStatus | None = None
    request: DealRequest | None = None
    created_by: str | None = None
    request_id: str | None = None


class LoadPartnerInput(Model):
    partner_id: Identifier


class Signatory(Model):
    """A signer of the deal contract; `email` only where a remote provider needs it."""

    user: UserName
    role: Literal["licensor", "licensee"]
    email: str | None = None


class RequestSignatureInput(Model):
    """Ask the signing provider for an envelope; `idempotency_key` is made by the workflow."""

    idempotency_key: str
    deal_id: str
    workflow_id: str
    title: str
    partner_id: str
    plan_version: int
    signatories: list[Signatory] = Field(min_length=1)
    document: dict[str, Any] = Field(default_factory=dict)
    provider: str | None = None
    """None: the worker's configured provider (`local` by default)."""


class EnvelopeRef(Model):
    envelope_id: str
    provider: str
    status: str = "sent"


class SalesCheckInput(Model):
    deal_id: str
    period: int
    scope: LicensedScope
    kpis: list[Kpi] = Field(min_length=1)


class SalesCheckResult(Model):
    """The latest report version of a period, checked against scope and KPIs."""

    period: int
    report_exists: bool
    version: int | None = None
    check: SalesCheck = Field(default_factory=SalesCheck)
    kpi_statuses: list[KpiStatus] = Field(default_factory=list)
    kpi_status: KpiStatus = KpiStatus.NOT_STARTED


class IssueStatementInput(Model):
    deal_id: str
    statement: Statement
    detail: dict[str, Any] = Field(default_factory=dict)


class ReviewInput(Model):
    deal_id: str
    period: int
    contract_year: int
    partner_id: str
    early: bool = False
    periods: list[PeriodRecord] = Field(default_factory=list)


class ReviewPack(Model):
    """What the owner sees before deciding continue | amend | terminate."""

    period: int
    early: bool = False
    kpi_trend: list[KpiStatus] = Field(default_factory=list)
    net_sales_trend: list[Decimal] = Field(default_factory=list)
    royalties_ytd: Decimal = Decimal(0)
    invoiced_ytd: Decimal = Decimal(0)
    partner_score: float = 0.0
    summary: str = ""
