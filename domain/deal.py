"""The deal request: what the process owner submits to start a licensing deal."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain import bounds, examples, limits
from domain.approval import ApprovalStep
from domain.bounds import at_edge, edge
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

    objectives: Annotated[list[Objective], *bounds.max_items(limits.MAX_ITEMS)] = Field(
        min_length=1
    )
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
    promotion: Annotated[list[Promotion], *bounds.max_items(limits.MAX_ITEMS)] = Field(
        default_factory=list
    )
    kpis: Annotated[list[Kpi], *bounds.max_items(limits.MAX_ITEMS)] = Field(min_length=1)


class RoyaltyTier(Model):
    """Marginal band: `rate` applies to contract-year-to-date net sales up to `up_to`."""

    up_to: Amount | None = None
    rate: Annotated[Decimal, *bounds.number(decimals=limits.MAX_RATE_DECIMALS)] = Field(gt=0, lt=1)


UnlicensedPolicyKind = Literal["charge_highest_rate", "charge_rate", "exclude"]


class UnlicensedPolicy(Model):
    """What sales outside the licensed scope cost: the highest tier rate (default), a
    given `rate`, or nothing (`exclude`, the breach is handled by the compliance task only).
    Charged unlicensed royalty comes on top of the guarantee and is shown separately."""

    policy: UnlicensedPolicyKind = "charge_highest_rate"
    rate: Annotated[Decimal, *bounds.number(decimals=limits.MAX_RATE_DECIMALS)] | None = Field(
        default=None, gt=0, le=1
    )

    @model_validator(mode="after")
    def _rate_with_charge_rate(self) -> UnlicensedPolicy:
        if (self.policy == "charge_rate") != (self.rate is not None):
            raise ValueError("give `rate` with policy charge_rate, and only then")
        return self


class Terms(Model):
    currency: CurrencyCode = "EUR"
    royalty_tiers: Annotated[list[RoyaltyTier], *bounds.max_items(limits.MAX_ITEMS)] = Field(
        min_length=1
    )
    advance: Money = Decimal(0)
    minimum_guarantee_per_year: Money = Decimal(0)
    unlicensed: UnlicensedPolicy = Field(default_factory=UnlicensedPolicy)
    payment_terms: IsoDuration = "P30D"
    """Time from a statement's issue date to its due date."""
    sell_off: IsoDuration | None = None
    """A contractual sell-off period after the term ends (expiry or termination): stock
    may still be sold and reported, e.g. P90D."""

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
        if currency is not None and at_edge(info):
            check_minor_unit(amount, currency)
        return amount

    def unlicensed_rate(self) -> Decimal:
        """The rate charged on unlicensed net sales (0 when the policy excludes them)."""
        if self.unlicensed.policy == "exclude":
            return Decimal(0)
        if self.unlicensed.policy == "charge_rate" and self.unlicensed.rate is not None:
            return self.unlicensed.rate
        return max(t.rate for t in self.royalty_tiers)

    @property
    def minor_unit(self) -> int:
        """Decimals of the deal currency (statement amounts are rounded to them); cents for a
        currency an earlier release accepted without checking it."""
        try:
            return minor_unit(self.currency)
        except ValueError:
            return 2


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give a time zone offset (for example 2027-01-01T00:00:00Z)")


class Schedule(Model):
    """Cadences. `period` P1M is a calendar month; PT2S works for demos."""

    period: IsoDuration = "P1M"
    periods_per_review: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] = Field(
        default=3, ge=1
    )
    periods_per_year: Annotated[int, *bounds.number(maximum=limits.MAX_PERIODS_PER_YEAR)] = Field(
        default=12, ge=1
    )
    term_periods: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] = Field(
        default=36, ge=1
    )
    report_grace: IsoDuration = "P15D"
    decision_sla: IsoDuration = "P5D"
    start: Annotated[datetime, edge(_aware)] | None = None
    """When the first period starts (with a time zone offset); none: at signature."""

    @model_validator(mode="after")
    def _whole_years(self, info: ValidationInfo) -> Schedule:
        if self.term_periods % self.periods_per_year:
            raise ValueError("term_periods must be a whole number of contract years")
        term = parse_duration(self.period).approx() * self.term_periods
        if term > limits.MAX_TERM and at_edge(info):
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
    partners: Annotated[list[Identifier], *bounds.max_items(limits.MAX_IDS)] = Field(min_length=1)
    plan_approvers: Annotated[list[UserName], *bounds.max_items(limits.MAX_IDS)] = Field(
        min_length=1
    )
    partner_approval_chain: Annotated[list[ApprovalStep], *bounds.max_items(limits.MAX_IDS)] = (
        Field(min_length=1)
    )
    licensor_signatory: UserName
    owner: UserName | None = None
    """Process owner; the API fills it from the caller's token."""
    owner_may_sign: bool = False
    """The owner may be the licensor signatory (separation of duties otherwise forbids it)."""

    def owners(self) -> list[str]:
        """Who steers the deal: the owner, or (no owner given) the plan approvers."""
        return [self.owner] if self.owner else list(self.plan_approvers)


def canonical_request_hash(request: DealRequest) -> str:
    """sha256 of the request's canonical JSON (sorted keys, no whitespace)."""
    data = request.model_dump(mode="json")
    if not data.get("owner_may_sign"):
        del data["owner_may_sign"]  # requests from before the field hash as they did
    body = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
