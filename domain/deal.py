"""The deal request: what the process owner submits to start a licensing deal."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain import examples, limits
from domain.approval import ApprovalStep
from domain.common import (
    Amount,
    Code,
    Codes,
    Identifier,
    LicensedScope,
    Model,
    Money,
    Name,
    UserName,
)
from domain.currency import CurrencyCode, check_minor_unit, minor_unit
from domain.durations import IsoDuration, parse_duration


class Right(StrEnum):
    PRODUCT = "product"
    BRAND = "brand"
    CHANNEL = "channel"
    TECHNOLOGY = "technology"
    TALENT = "talent"


class ObjectiveKind(StrEnum):
    BRAND_AWARENESS = "brand_awareness"
    MARKET_SHARE = "market_share"
    REVENUE = "revenue"


class Property(Model):
    """The licensed intellectual property and which rights are granted."""

    name: Name
    rights: list[Right] = Field(min_length=1, max_length=len(Right))


class Objective(Model):
    kind: ObjectiveKind
    target: Amount
    unit: Code


class Audience(Model):
    segments: Codes
    regions: Codes


class Needs(Model):
    """Needs analysis: why the licensor does the deal and for whom."""

    objectives: list[Objective] = Field(min_length=1, max_length=limits.MAX_ITEMS)
    audience: Audience


class Promotion(Model):
    channel: Code
    budget: Money


class Kpi(Model):
    """A measurable KPI checked every period; `at_risk_below` is a fraction of target."""

    metric: Literal["net_sales", "units", "gross_sales"] = "net_sales"
    target_per_period: Amount
    at_risk_below: float = Field(default=0.75, gt=0, le=1)


class Plan(Model):
    """Planning: licensed scope, promotion and KPIs. Versioned by the workflow on amendment."""

    scope: LicensedScope
    promotion: list[Promotion] = Field(default_factory=list, max_length=limits.MAX_ITEMS)
    kpis: list[Kpi] = Field(min_length=1, max_length=limits.MAX_ITEMS)


class RoyaltyTier(Model):
    """Marginal band: `rate` applies to contract-year-to-date net sales up to `up_to`."""

    up_to: Amount | None = None
    rate: Decimal = Field(gt=0, lt=1, decimal_places=limits.MAX_RATE_DECIMALS)


class Terms(Model):
    currency: CurrencyCode = "EUR"
    royalty_tiers: list[RoyaltyTier] = Field(min_length=1, max_length=limits.MAX_ITEMS)
    advance: Money = Decimal(0)
    minimum_guarantee_per_year: Money = Decimal(0)

    @field_validator("royalty_tiers")
    @classmethod
    def _tiers_ascending(cls, tiers: list[RoyaltyTier]) -> list[RoyaltyTier]:
        bounds = [t.up_to for t in tiers]
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last royalty tier may be open-ended (up_to null)")
        finite = [b for b in bounds if b is not None]
        if finite != sorted(set(finite)):
            raise ValueError("royalty tier bounds must be strictly ascending")
        return tiers

    @field_validator("advance", "minimum_guarantee_per_year")
    @classmethod
    def _in_minor_units(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        if currency is not None:
            check_minor_unit(amount, currency)
        return amount

    @property
    def minor_unit(self) -> int:
        """Decimals of the deal currency (statement amounts are rounded to them)."""
        return minor_unit(self.currency)


class Schedule(Model):
    """Cadences. `period` P1M is a calendar month; PT2S works for demos."""

    period: IsoDuration = "P1M"
    periods_per_review: int = Field(default=3, ge=1, le=limits.MAX_TERM_PERIODS)
    periods_per_year: int = Field(default=12, ge=1, le=limits.MAX_PERIODS_PER_YEAR)
    term_periods: int = Field(default=36, ge=1, le=limits.MAX_TERM_PERIODS)
    report_grace: IsoDuration = "P15D"
    decision_sla: IsoDuration = "P5D"
    start: AwareDatetime | None = None
    """When the first period starts (with a time zone offset); none: at signature."""

    @model_validator(mode="after")
    def _whole_years(self) -> Schedule:
        if self.term_periods % self.periods_per_year:
            raise ValueError("term_periods must be a whole number of contract years")
        term = parse_duration(self.period).approx() * self.term_periods
        if term > limits.MAX_TERM:
            raise ValueError("period x term_periods may cover at most 100 years")
        return self


class DealRequest(Model):
    """Body of POST /v1/deals and input of the LicensingDeal workflow."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.DEAL]})

    deal_id: Identifier
    title: Name
    property: Property
    needs: Needs | None = None
    plan: Plan
    terms: Terms
    schedule: Schedule = Field(default_factory=Schedule)
    partners: list[Identifier] = Field(min_length=1, max_length=limits.MAX_IDS)
    plan_approvers: list[UserName] = Field(min_length=1, max_length=limits.MAX_IDS)
    partner_approval_chain: list[ApprovalStep] = Field(min_length=1, max_length=limits.MAX_IDS)
    licensor_signatory: UserName
    owner: UserName | None = None
    """Process owner; the API fills it from the caller's token."""

    def owners(self) -> list[str]:
        """Who steers the deal: the owner, or (no owner given) the plan approvers."""
        return [self.owner] if self.owner else list(self.plan_approvers)


def canonical_request_hash(request: DealRequest) -> str:
    """sha256 of the request's canonical JSON (sorted keys, no whitespace)."""
    body = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
