"""Inputs and outputs of the LicensingDeal activities (see `activities/deal.py`,
`activities/signing.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.common import Identifier, LicensedScope, Model, UserName
from domain.deal import DealRequest, Kpi, RateCardRow, Terms
from domain.deal_state import KpiStatus, PeriodRecord, Stage, Statement
from domain.sales_check import SalesCheck


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
    terms: Terms | None = None
    """The commercial terms to sign (none: requested before envelopes carried them)."""
    scope: LicensedScope | None = None
    """The licensed scope to sign (an amendment's: the amended plan's)."""
    contract_years: int | None = None
    """Contract years of the term (spells out the MG of each)."""
    provider: str | None = None
    """None: the worker's configured provider (`local` by default)."""


class EnvelopeRef(Model):
    envelope_id: str
    provider: str
    status: str = "sent"


def _empty(value: list[Any]) -> bool:
    return not value


class SalesCheckInput(Model):
    deal_id: str
    period: int
    scope: LicensedScope
    kpis: list[Kpi] = Field(min_length=1)
    rate_card: list[RateCardRow] = Field(default_factory=list, exclude_if=_empty)
    """The deal's rate card: licensed sales are summed per row too."""


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
