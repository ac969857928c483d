"""Reference model of a licensing deal's money, per contract year (stdlib only, on purpose:
no import from `domain`, `workflows` or `activities`, so it cannot share their mistakes).

Rules (Decimal arithmetic, ROUND_HALF_UP to the currency's minor unit):

* E = round(tiers(max(0, sum N_p))): marginal bands on the year-to-date licensed net sales,
  sales above the last finite bound at the last tier's rate;
  U = round(max(0, sum X_p) x r), r the highest tier rate, a given rate or 0.
* A_y = the advance in year 1, else 0 (paid at signing: it counts as billed).
* G = A_y while the year is open; max(A_y, MG) at its true-up; max(A_y, round(MG x k /
  periods per year)) at the final statement of a year cut short by a termination, k its
  periods ended in full. A settled year keeps its G; G never goes down.
* Owed_y = max(G, E) + U. Every money event issues Owed_y - (A_y + earlier statements of
  y): positive an invoice, negative a `credit_note`. A corrected report with the same
  (N, X) issues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

ZERO = Decimal(0)


@dataclass(frozen=True)
class RefTerms:
    tiers: tuple[tuple[Decimal | None, Decimal], ...]
    """(up_to, rate) ascending; the last tier's bound is ignored (open-ended)."""
    advance: Decimal = ZERO
    mg: Decimal = ZERO
    decimals: int = 2
    unlicensed: str = "charge_highest_rate"
    """Or `charge_rate` (with `unlicensed_rate`) or `exclude`."""
    unlicensed_rate: Decimal | None = None
    periods_per_year: int = 4

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def rate_on_unlicensed(self) -> Decimal:
        if self.unlicensed == "exclude":
            return ZERO
        if self.unlicensed == "charge_rate":
            assert self.unlicensed_rate is not None
            return self.unlicensed_rate
        return max(rate for _, rate in self.tiers)

    def year_of(self, period: int) -> int:
        return (period - 1) // self.periods_per_year + 1


def tiered(base: Decimal, tiers: tuple[tuple[Decimal | None, Decimal], ...]) -> Decimal:
    """Unrounded royalty on `base` with marginal bands [previous bound, bound)."""
    total, lower = ZERO, ZERO
    for index, (up_to, rate) in enumerate(tiers):
        upper = None if index == len(tiers) - 1 else up_to
        top = base if upper is None else min(base, upper)
        total += max(ZERO, top - lower) * rate
        if upper is None:
            break
        lower = upper
    return total


@dataclass(frozen=True)
class Report:
    period: int
    version: int
    net: Decimal
    unlicensed: Decimal = ZERO


@dataclass(frozen=True)
class YearEnd:
    year: int


@dataclass(frozen=True)
class Terminate:
    year: int
    ended: int
    """Periods of `year` that ended in full before the termination."""


@dataclass(frozen=True)
class Final:
    year: int


Event = Report | YearEnd | Terminate | Final


class Statement(NamedTuple):
    id: str
    year: int
    kind: str
    amount: Decimal


@dataclass
class Year:
    advance: Decimal
    guarantee: Decimal
    statements: Decimal = ZERO
    settled: bool = False
    periods: dict[int, Report] = field(default_factory=dict)


class MoneyModel:
    """Feed events in the order they happen; `statements` lists what must be issued."""

    def __init__(self, terms: RefTerms) -> None:
        self.terms = terms
        self.years: dict[int, Year] = {}
        self.statements: list[Statement] = []
        self.terminated: Terminate | None = None

    def year(self, y: int) -> Year:
        if y not in self.years:
            advance = self.terms.advance if y == 1 else ZERO
            self.years[y] = Year(advance=advance, guarantee=advance)
        return self.years[y]

    def earned(self, y: int) -> Decimal:
        net = sum((r.net for r in self.year(y).periods.values()), ZERO)
        return self.terms.round(tiered(max(ZERO, net), self.terms.tiers))

    def unlicensed_royalty(self, y: int) -> Decimal:
        sales = sum((r.unlicensed for r in self.year(y).periods.values()), ZERO)
        return self.terms.round(max(ZERO, sales) * self.terms.rate_on_unlicensed())

    def owed(self, y: int) -> Decimal:
        return max(self.year(y).guarantee, self.earned(y)) + self.unlicensed_royalty(y)

    def apply(self, event: Event) -> Statement | None:
        if isinstance(event, Terminate):
            self.terminated = event
            return None
        if isinstance(event, Report):
            y = self.terms.year_of(event.period)
            book = self.year(y)
            before = book.periods.get(event.period)
            if before is not None and event.version <= before.version:
                return None  # stale
            book.periods[event.period] = event
            if before is not None and (before.net, before.unlicensed) == (
                event.net,
                event.unlicensed,
            ):
                return None
            first = before is None
            key = f"y{y}:p{event.period}" + ("" if first else f":v{event.version}")
            kind = "period" if first and not book.settled else "adjustment"
            return self._issue(y, key, kind)
        y = event.year
        book = self.year(y)
        if not book.settled:
            mg = self.terms.mg
            if isinstance(event, Final) and self.terminated and self.terminated.year == y:
                mg = self.terms.round(mg * self.terminated.ended / self.terms.periods_per_year)
            book.guarantee = max(book.guarantee, book.advance, mg)
            book.settled = True
        if isinstance(event, YearEnd):
            return self._issue(y, f"y{y}:true-up", "true_up")
        return self._issue(y, "final", "final")

    def _issue(self, y: int, key: str, kind: str) -> Statement:
        book = self.year(y)
        amount = self.owed(y) - (book.advance + book.statements)
        book.statements += amount
        statement = Statement(key, y, "credit_note" if amount < 0 else kind, amount)
        self.statements.append(statement)
        return statement

    def run(self, events: list[Event]) -> list[Statement]:
        for event in events:
            self.apply(event)
        return self.statements


def expected_statements(terms: RefTerms, events: list[Event]) -> list[Statement]:
    return MoneyModel(terms).run(events)
