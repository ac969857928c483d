"""Rate cards: royalty terms per scope cell (category x territory x channel).

Rules:

* A row names any of `category`, `territory` (a country, or a region of
  `domain.territories` standing for its members) and `channel`; a field left out matches
  anything. It carries either `royalty_tiers` (marginal bands on the row's own
  contract-year-to-date net sales, floored at 0) or `per_unit` (money per unit sold, in the
  deal currency, on the units of the row's lines).
* A licensed sales line goes to the most specific row that matches it (the most fields
  given); among equally specific rows, the first. A line no row matches is earned on the
  deal's `royalty_tiers` (the default row), so terms without a rate card bill as before.
* Each row's royalty for the year is rounded half up to the currency's minor unit; the
  year's earned royalty E is the sum of the rows' (and the default row's) royalties.
* Matching compares normalised values (categories and channels casefolded, territories
  upper case, regions expanded), like the sales check.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import Field, model_validator

from domain import bounds, limits
from domain.common import (
    Amount,
    LicensedScope,
    LowerCode,
    Model,
    Name,
    ScopeTerritory,
    fold_code,
)
from domain.territories import covered, wanted

ZERO = Decimal(0)
DEFAULT_LABEL = "default"
"""The breakdown's name for the deal's `royalty_tiers` (lines no row matches)."""


class RoyaltyTier(Model):
    """Marginal band: `rate` applies to contract-year-to-date net sales up to `up_to`."""

    up_to: Amount | None = None
    rate: Annotated[Decimal, *bounds.number(decimals=limits.MAX_RATE_DECIMALS)] = Field(gt=0, lt=1)


def check_tiers(tiers: Sequence[RoyaltyTier]) -> None:
    """Only the last tier open-ended; finite bounds strictly ascending (ValueError)."""
    ups = [t.up_to for t in tiers]
    if any(b is None for b in ups[:-1]):
        raise ValueError("only the last royalty tier may be open-ended (up_to null)")
    finite = [b for b in ups if b is not None]
    if finite != sorted(set(finite)):
        raise ValueError("royalty tier bounds must be strictly ascending")


def earned_royalty(ytd_net_sales: Decimal, tiers: Sequence[RoyaltyTier]) -> Decimal:
    """Unrounded royalty on year-to-date net sales with marginal tiers.

    Sales above a finite last bound keep earning the last tier's rate."""
    if ytd_net_sales < 0:
        raise ValueError("year-to-date net sales cannot be negative")
    if not tiers:
        raise ValueError("at least one royalty tier is needed")
    total, lower = ZERO, ZERO
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        upper = None if last else tier.up_to
        if upper is not None and upper <= lower:
            raise ValueError("royalty tier bounds must be strictly ascending")
        band_top = ytd_net_sales if upper is None else min(ytd_net_sales, upper)
        if band_top > lower:
            total += (band_top - lower) * tier.rate
        if upper is None or ytd_net_sales <= upper:
            break
        lower = upper
    return total


PerUnitRate = Annotated[
    Decimal,
    *bounds.number(maximum=limits.MAX_AMOUNT, decimals=limits.MAX_RATE_DECIMALS),
]
"""Money per unit sold, in the deal currency (finer than its minor unit is allowed: the
row's royalty is rounded)."""


class RateCardRow(Model):
    """One row: which lines it takes (fields left out match anything) and its rate, either
    `royalty_tiers` or `per_unit`."""

    label: Name | None = None
    """Shown on statements; default `category/territory/channel` with `*` for any."""
    category: LowerCode | None = None
    territory: ScopeTerritory | None = None
    """A country, or a region matching each of its members."""
    channel: LowerCode | None = None
    royalty_tiers: Annotated[list[RoyaltyTier], *bounds.max_items(limits.MAX_ROW_TIERS)] | None = (
        Field(default=None, min_length=1)
    )
    per_unit: PerUnitRate | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_rate(self) -> RateCardRow:
        if (self.royalty_tiers is None) == (self.per_unit is None):
            raise ValueError("give either royalty_tiers or per_unit (exactly one)")
        if self.royalty_tiers is not None:
            check_tiers(self.royalty_tiers)
        return self

    @property
    def basis(self) -> Literal["tiers", "per_unit"]:
        return "tiers" if self.royalty_tiers is not None else "per_unit"

    def matcher(self) -> tuple[str | None, str | None, str | None]:
        """(category, territory, channel) as compared; None: any."""
        return (
            fold_code(self.category) if self.category is not None else None,
            self.territory.strip().upper() if self.territory is not None else None,
            fold_code(self.channel) if self.channel is not None else None,
        )

    def specificity(self) -> int:
        """How many of category, territory and channel the row names."""
        return sum(part is not None for part in self.matcher())

    def matches(self, category: str, territory: str, channel: str) -> bool:
        cat, ter, chan = self.matcher()
        return (
            (cat is None or fold_code(category) == cat)
            and (ter is None or territory.strip().upper() in covered([ter]))
            and (chan is None or fold_code(channel) == chan)
        )

    def name(self) -> str:
        if self.label:
            return self.label
        return "/".join(part or "*" for part in (self.category, self.territory, self.channel))

    def earned(self, sales: RowSales) -> Decimal:
        """Unrounded royalty of the row on its year totals."""
        if self.per_unit is not None:
            return self.per_unit * max(0, sales.units)
        assert self.royalty_tiers is not None
        return earned_royalty(max(ZERO, sales.net_sales), self.royalty_tiers)

    def highest_rate(self) -> Decimal | None:
        """The row's highest percentage rate (None for a per-unit row)."""
        return max(t.rate for t in self.royalty_tiers) if self.royalty_tiers else None


class RowSales(Model):
    """Licensed net sales and units that went to one row (a period's or a year's)."""

    net_sales: Decimal = ZERO
    units: int = 0

    def plus(self, other: RowSales) -> RowSales:
        return RowSales(net_sales=self.net_sales + other.net_sales, units=self.units + other.units)


class RowRoyalty(Model):
    """One line of a statement's breakdown: which row applied, to what, for how much.

    Period and adjustment statements show the change the report made; true-up and final
    statements the year's totals. `row` is the index in `terms.rate_card`, None for the
    deal's `royalty_tiers`; `units` is None for that default row."""

    row: int | None
    label: str
    basis: Literal["tiers", "per_unit"]
    net_sales: Decimal = ZERO
    units: int | None = None
    royalty_earned: Decimal = ZERO


class SaleCell(Protocol):
    """What a line is matched on."""

    @property
    def category(self) -> str: ...
    @property
    def territory(self) -> str: ...
    @property
    def channel(self) -> str: ...


def row_for(line: SaleCell, rows: Sequence[RateCardRow]) -> int | None:
    """The index of the row a licensed line goes to (most specific, then first), or None
    for the default row."""
    best, best_specificity = None, -1
    for index, row in enumerate(rows):
        if row.matches(line.category, line.territory, line.channel):
            specificity = row.specificity()
            if specificity > best_specificity:
                best, best_specificity = index, specificity
    return best


def add_sale(totals: dict[int, RowSales], row: int | None, net_sales: Decimal, units: int) -> None:
    """Count one licensed line in its row (the default row is not kept: it is the rest)."""
    if row is None:
        return
    totals[row] = totals.get(row, RowSales()).plus(RowSales(net_sales=net_sales, units=units))


def sum_rows(parts: Iterable[dict[int, RowSales]]) -> dict[int, RowSales]:
    """Per-row totals of several periods."""
    totals: dict[int, RowSales] = {}
    for part in parts:
        for row, sales in part.items():
            totals[row] = totals.get(row, RowSales()).plus(sales)
    return totals


def rate_card_problems(rows: Sequence[RateCardRow]) -> list[str]:
    """Rows that can never apply: a row naming no field (it would take every line: change
    `royalty_tiers` instead), the same matcher twice (the second would never apply), or a
    row whose countries earlier, equally specific rows already take (a country row after a
    region row holding that country: the first of equally specific rows applies)."""
    problems: list[str] = []
    seen: dict[tuple[str | None, str | None, str | None], int] = {}
    for index, row in enumerate(rows):
        matcher = row.matcher()
        if row.specificity() == 0:
            problems.append(
                f"{index}: name a category, territory or channel (the deal's royalty_tiers"
                " apply to every line no row takes)"
            )
        elif matcher in seen:
            problems.append(f"{index}: the same category/territory/channel as row {seen[matcher]}")
        else:
            seen[matcher] = index
            takers = _shadowing(rows[:index], row)
            if takers:
                named = ", ".join(str(i) for i in takers)
                problems.append(
                    f"{index}: never applies: row {named} (as specific, and first) takes every"
                    " line it matches; put it before them"
                )
    return problems


def _shadowing(earlier: Sequence[RateCardRow], row: RateCardRow) -> list[int]:
    """The earlier rows that together take every line `row` matches (they name the same
    fields, the same category and channel, and territories covering all of its countries),
    or [] when some line is left to `row`."""
    category, territory, channel = row.matcher()
    if territory is None:
        return []  # without a territory, only the same matcher could hide it (refused above)
    left = set(wanted([territory]))
    takers: list[int] = []
    for index, other in enumerate(earlier):
        cat, ter, chan = other.matcher()
        if ter is None or (cat, chan) != (category, channel):
            continue
        taken = left & set(wanted([ter]))
        if taken:
            takers.append(index)
            left -= taken
    return takers if not left else []


def outside_scope(rows: Sequence[RateCardRow], scope: LicensedScope) -> list[str]:
    """`<row>.<field>: ...` for every row naming a category, territory or channel the
    scope does not license (a region must share at least one country with it)."""
    cover = scope.cover()
    problems: list[str] = []
    for index, row in enumerate(rows):
        cat, ter, chan = row.matcher()
        if cat is not None and not cover.has_category(cat):
            problems.append(f"{index}.category: {row.category} is not licensed by the plan")
        if ter is not None and not (covered([ter]) & cover.territories):
            problems.append(f"{index}.territory: {row.territory} is not licensed by the plan")
        if chan is not None and not cover.has_channel(chan):
            problems.append(f"{index}.channel: {row.channel} is not licensed by the plan")
    return problems
