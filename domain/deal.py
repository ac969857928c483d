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
from domain.rate_cards import RateCardRow as RateCardRow
from domain.rate_cards import RoyaltyTier as RoyaltyTier  # it lived here
from domain.rate_cards import check_tiers, outside_scope, rate_card_problems


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


def _empty(value: list[object]) -> bool:
    return not value


def _off(value: bool) -> bool:
    return not value


class Terms(Model):
    """The commercial terms. Fields added after the first release are left out of dumps at
    their defaults, so older requests keep their stored JSON and request hash."""

    currency: CurrencyCode = "EUR"
    royalty_tiers: Annotated[list[RoyaltyTier], *bounds.max_items(limits.MAX_ITEMS)] = Field(
        min_length=1
    )
    """The default row: lines no `rate_card` row takes."""
    advance: Money = Decimal(0)
    minimum_guarantee_per_year: Money = Decimal(0)
    unlicensed: UnlicensedPolicy = Field(default_factory=UnlicensedPolicy)
    payment_terms: IsoDuration = "P30D"
    """Time from a statement's issue date to its due date."""
    sell_off: IsoDuration | None = None
    """A contractual sell-off period after the term ends (expiry or termination): stock
    may still be sold and reported, e.g. P90D."""
    rate_card: Annotated[list[RateCardRow], *bounds.max_items(limits.MAX_RATE_CARD_ROWS)] = Field(
        default_factory=list, exclude_if=_empty
    )
    """Royalty terms per scope cell (`domain.rate_cards`): the most specific matching row
    applies to a line, else `royalty_tiers`."""
    minimum_guarantee_schedule: Annotated[
        list[Money], *bounds.max_items(limits.MAX_GUARANTEE_YEARS)
    ] = Field(default_factory=list, exclude_if=_empty)
    """MG of contract years 1, 2, ...; years after the last entry keep the last entry (a
    renewal continues at the latest level). Empty: `minimum_guarantee_per_year` every year.
    Give one or the other."""
    advance_recoupable_across_term: bool = Field(default=False, exclude_if=_off)
    """False: the advance counts in contract year 1 only (what year 1 does not use is
    forfeited). True: what year 1 does not use carries into later years, where royalty
    earned beyond the year's guarantee recoups it before it is billed (`domain.royalty`)."""

    @field_validator("royalty_tiers")
    @classmethod
    def _tiers_ascending(cls, tiers: list[RoyaltyTier]) -> list[RoyaltyTier]:
        check_tiers(tiers)
        return tiers

    @field_validator("advance", "minimum_guarantee_per_year")
    @classmethod
    def _in_minor_units(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        if currency is not None and at_edge(info):
            check_minor_unit(amount, currency)
        return amount

    @field_validator("rate_card")
    @classmethod
    def _rows_apply(cls, rows: list[RateCardRow], info: ValidationInfo) -> list[RateCardRow]:
        problems = rate_card_problems(rows) if at_edge(info) else []
        if problems:
            raise ValueError("row " + "; row ".join(problems))
        return rows

    @field_validator("minimum_guarantee_schedule")
    @classmethod
    def _schedule(cls, amounts: list[Decimal], info: ValidationInfo) -> list[Decimal]:
        if not amounts or not at_edge(info):
            return amounts
        if info.data.get("minimum_guarantee_per_year"):
            raise ValueError(
                "give minimum_guarantee_per_year or minimum_guarantee_schedule, not both"
            )
        currency = info.data.get("currency")
        if currency is not None:
            for year, amount in enumerate(amounts, start=1):
                try:
                    check_minor_unit(amount, currency)
                except ValueError as exc:
                    raise ValueError(f"year {year}: {exc}") from None
        return amounts

    def minimum_guarantee_for(self, contract_year: int) -> Decimal:
        """The MG of a contract year: its schedule entry (the last one after the schedule
        ends), else `minimum_guarantee_per_year`."""
        if contract_year < 1:
            raise ValueError("contract years start at 1")
        schedule = self.minimum_guarantee_schedule
        if not schedule:
            return self.minimum_guarantee_per_year
        return schedule[min(contract_year, len(schedule)) - 1]

    def unlicensed_rate(self) -> Decimal:
        """The rate charged on unlicensed net sales (0 when the policy excludes them): the
        given rate, or the highest percentage rate of the terms (`royalty_tiers` and every
        tiered rate-card row, so an unlicensed sale never costs less than a licensed one)."""
        if self.unlicensed.policy == "exclude":
            return Decimal(0)
        if self.unlicensed.policy == "charge_rate" and self.unlicensed.rate is not None:
            return self.unlicensed.rate
        rows = (row.highest_rate() for row in self.rate_card)
        return max([t.rate for t in self.royalty_tiers] + [r for r in rows if r is not None])

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


def _absent(value: object) -> bool:
    return value is None


class DealRequest(Model):
    """Body of POST /v1/deals and input of the LicensingDeal workflow."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [examples.DEAL, examples.DEAL_WITH_RATE_CARD]}
    )

    deal_id: Identifier
    title: Name
    property: Property
    property_id: Identifier | None = Field(default=None, exclude_if=_absent)
    """The licensed property's record (`POST /v1/properties`): its grants are kept in the
    rights ledger. The API requires it for new deals; deals started before it have none (and
    no ledger)."""
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

    @field_validator("terms")
    @classmethod
    def _rate_card_in_scope(cls, terms: Terms, info: ValidationInfo) -> Terms:
        """A rate-card row names only what the plan licenses (else it could never apply)."""
        plan = info.data.get("plan")
        if plan is not None and terms.rate_card and at_edge(info):
            problems = outside_scope(terms.rate_card, plan.scope)
            if problems:
                raise ValueError("rate_card." + "; rate_card.".join(problems))
        return terms

    def owners(self) -> list[str]:
        """Who steers the deal: the owner, or (no owner given) the plan approvers."""
        return [self.owner] if self.owner else list(self.plan_approvers)


def canonical_request_hash(request: DealRequest) -> str:
    """sha256 of the request's canonical JSON (sorted keys, no whitespace)."""
    data = request.model_dump(mode="json")
    if not data.get("owner_may_sign"):
        del data["owner_may_sign"]  # requests from before the field hash as they did
    if data.get("property_id") is None:
        data.pop("property_id", None)  # likewise (not dumped when absent)
    body = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
