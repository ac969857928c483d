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

Rate cards, MG schedule, recoupable advance (every one off by default: the rules above):

* Rows (category, territory, channel; None = any; a territory may be a region of
  `REGIONS` below) take each licensed line of a report: the matching row naming the most
  fields, the first on a tie; lines no row takes, and reports given without lines, go to
  the default tiers. A tiered row earns round(tiers(max(0, its year's net))), a per-unit
  row round(rate x its year's units), the default round(tiers(max(0, the rest))); E is
  their sum. The highest rate (unlicensed) is the highest of every tier of the terms.
* MG of year y: the schedule's entry y (its last after it ends), else `mg`.
* Recoupable: year 1 is as above; C_2 = A - min(A, max(M_1, E_1)), M_1 year 1's settled
  MG (0 while open); in a year y >= 2, R_y = min(C_y, max(0, E_y - G_y)),
  C_(y+1) = C_y - R_y, and Owed_y = max(G, E) + U - R_y. After each statement of year y,
  every later year z that exists and whose Owed_z - billed_z is not 0 gets
  `y<z>:carry:<the statement's id>` for it (`adjustment`, negative `credit_note`).
* A report repeated with the same figures (lines included) issues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

ZERO = Decimal(0)

REGIONS = {
    "DACH": ("DE", "AT", "CH"),
    "BENELUX": ("BE", "NL", "LU"),
    "NORDICS": ("DK", "FI", "IS", "NO", "SE"),
}
"""The regions the money tests use (written out here, not read from the code under test)."""


@dataclass(frozen=True)
class RefRow:
    """A rate-card row: None matches anything; `tiers` or `per_unit`."""

    category: str | None = None
    territory: str | None = None
    channel: str | None = None
    tiers: tuple[tuple[Decimal | None, Decimal], ...] | None = None
    per_unit: Decimal | None = None

    def takes(self, line: RefLine) -> bool:
        if self.category is not None and self.category.lower() != line.category.lower():
            return False
        if self.channel is not None and self.channel.lower() != line.channel.lower():
            return False
        if self.territory is not None:
            members = REGIONS.get(self.territory.upper(), (self.territory.upper(),))
            if line.territory.upper() not in members:
                return False
        return True

    def given(self) -> int:
        return sum(f is not None for f in (self.category, self.territory, self.channel))


@dataclass(frozen=True)
class RefLine:
    """A licensed sales line."""

    category: str
    territory: str
    channel: str
    net: Decimal
    units: int = 0


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
    rows: tuple[RefRow, ...] = ()
    mg_schedule: tuple[Decimal, ...] = ()
    recoupable: bool = False

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)

    def rate_on_unlicensed(self) -> Decimal:
        if self.unlicensed == "exclude":
            return ZERO
        if self.unlicensed == "charge_rate":
            assert self.unlicensed_rate is not None
            return self.unlicensed_rate
        rates = [rate for _, rate in self.tiers]
        for row in self.rows:
            rates += [rate for _, rate in row.tiers or ()]
        return max(rates)

    def mg_of(self, year: int) -> Decimal:
        if not self.mg_schedule:
            return self.mg
        return self.mg_schedule[min(year, len(self.mg_schedule)) - 1]

    def row_of(self, line: RefLine) -> int | None:
        best, most = None, -1
        for index, row in enumerate(self.rows):
            if row.takes(line) and row.given() > most:
                best, most = index, row.given()
        return best

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
    lines: tuple[RefLine, ...] = ()
    """The licensed lines (their net sales add up to `net`); none: all at the default."""


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
    minimum: Decimal = ZERO
    """The MG (or pro rata share) the year was settled at."""
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
        t = self.terms
        rest, nets, units = ZERO, [ZERO] * len(t.rows), [0] * len(t.rows)
        for report in self.year(y).periods.values():
            if not report.lines:
                rest += report.net
            for line in report.lines:
                row = t.row_of(line)
                if row is None:
                    rest += line.net
                else:
                    nets[row] += line.net
                    units[row] += line.units
        total = t.round(tiered(max(ZERO, rest), t.tiers))
        for index, row in enumerate(t.rows):
            if row.per_unit is not None:
                total += t.round(row.per_unit * units[index])
            else:
                assert row.tiers is not None
                total += t.round(tiered(max(ZERO, nets[index]), row.tiers))
        return total

    def figures(self, report: Report) -> tuple[Decimal, Decimal, dict[int, tuple[Decimal, int]]]:
        """What a report's money depends on: its net, unlicensed and per-row totals (rows
        left with nothing are no figure)."""
        rows: dict[int, tuple[Decimal, int]] = {}
        for line in report.lines:
            row = self.terms.row_of(line)
            if row is not None:
                net, units = rows.get(row, (ZERO, 0))
                rows[row] = (net + line.net, units + line.units)
        return report.net, report.unlicensed, {k: v for k, v in rows.items() if v != (ZERO, 0)}

    def carried(self, y: int) -> Decimal:
        """C_y, the advance still to recoup when year y starts."""
        if not self.terms.recoupable or y <= 1:
            return ZERO
        first = self.years.get(1)
        used = max(first.minimum, self.earned(1)) if first is not None else ZERO
        carry = max(ZERO, self.terms.advance - used)
        for z in range(2, y):
            if z in self.years:
                carry -= min(carry, max(ZERO, self.earned(z) - self.years[z].guarantee))
        return carry

    def recouped(self, y: int) -> Decimal:
        if y <= 1:
            return ZERO
        return min(self.carried(y), max(ZERO, self.earned(y) - self.year(y).guarantee))

    def unlicensed_royalty(self, y: int) -> Decimal:
        sales = sum((r.unlicensed for r in self.year(y).periods.values()), ZERO)
        return self.terms.round(max(ZERO, sales) * self.terms.rate_on_unlicensed())

    def owed(self, y: int) -> Decimal:
        owed = max(self.year(y).guarantee, self.earned(y)) + self.unlicensed_royalty(y)
        return owed - self.recouped(y)

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
            if before is not None and self.figures(before) == self.figures(event):
                return None
            first = before is None
            key = f"y{y}:p{event.period}" + ("" if first else f":v{event.version}")
            kind = "period" if first and not book.settled else "adjustment"
            return self._issue(y, key, kind)
        y = event.year
        book = self.year(y)
        if not book.settled:
            mg = self.terms.mg_of(y)
            if isinstance(event, Final) and self.terminated and self.terminated.year == y:
                mg = self.terms.round(mg * self.terminated.ended / self.terms.periods_per_year)
            book.guarantee = max(book.guarantee, book.advance, mg)
            book.minimum = max(book.minimum, mg)
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
        for z in sorted(self.years):
            later = self.years[z]
            if z > y and (amount := self.owed(z) - (later.advance + later.statements)):
                later.statements += amount
                kind = "credit_note" if amount < 0 else "adjustment"
                self.statements.append(Statement(f"y{z}:carry:{key}", z, kind, amount))
        return statement

    def run(self, events: list[Event]) -> list[Statement]:
        for event in events:
            self.apply(event)
        return self.statements


def expected_statements(terms: RefTerms, events: list[Event]) -> list[Statement]:
    return MoneyModel(terms).run(events)
