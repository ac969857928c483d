"""Royalty math per contract year: tiered earned royalty, advance, minimum guarantee, true-up.

Deals use the contract-year books at the end of this module (patch `year-books`): every
money event recomputes its year and bills the difference, credit notes included. The
running ledger described first (`open_year`, `apply_period`, `close_year`) is kept for runs
started before that patch, which replay it unchanged.

Running-ledger rule (one pool per contract year, no carry-over between years):

* E(t): earned royalty on contract-year-to-date net sales, tiers being marginal bands
  (`earned_royalty`).
* The advance is a one-off payment at signing, credited to contract year 1 only:
  `advance_credit` = advance in year 1, 0 in later years. It counts as already invoiced
  (paid) when the year opens, and it is recoupable against year-1 royalties only.
* G(t), the guarantee due so far, is `advance_credit` all year long; the minimum
  guarantee (MG) is settled only by the year-end true-up.
* Owed(t) = max(G, E(t)); period invoice = max(0, Owed(t) - invoiced so far this year).
  Nothing is credited back when Owed drops (for example after a downward correction);
  the over-invoiced amount simply absorbs later increases of the same year.
* Year-end true-up = max(0, MG - max(E, advance_credit)); amounts already invoiced
  in the year also count toward MG, so (without downward corrections) the year's total
  bill is max(MG, E, advance_credit).

Worked check (8% to 500k then 10%, MG 60k, advance 20k): year 1 sales 100k/150k/200k/50k
give invoices 0/0/16,000/4,000 and a 20,000 true-up; year 2 sales 200k/250k/150k/150k
give 16,000/20,000/14,000/15,000 and no true-up.

Money is Decimal everywhere; amounts are rounded to the currency's minor unit (cents for
EUR, whole yen for JPY, mils for BHD; ROUND_HALF_UP) only when a statement amount is
produced (`decimals`). Cumulative amounts are rounded, then differenced, so
per-period rounding never drifts.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from domain.common import Model
from domain.currency import to_minor
from domain.deal import RoyaltyTier, Terms

ZERO = Decimal(0)


def to_cents(amount: Decimal, decimals: int = 2) -> Decimal:
    """Round an amount to the currency's minor unit (cents by default), half up."""
    return to_minor(amount, decimals)


def earned_royalty(ytd_net_sales: Decimal, tiers: list[RoyaltyTier]) -> Decimal:
    """Unrounded royalty on year-to-date net sales with marginal tiers.

    Sales above a finite last bound keep earning the last tier's rate.
    """
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


def advance_credit_for(contract_year: int, terms: Terms) -> Decimal:
    """The advance counts in contract year 1 only."""
    if contract_year < 1:
        raise ValueError("contract years start at 1")
    return terms.advance if contract_year == 1 else ZERO


class ContractYearLedger(Model):
    """Running totals of one contract year; a new year starts from `open_year`."""

    contract_year: int = Field(ge=1)
    ytd_net_sales: Decimal = ZERO
    earned: Decimal = ZERO
    """Unrounded E(t)."""
    invoiced: Decimal = ZERO
    """Advance credit plus every period invoice of the year (cents)."""
    advance_credit: Decimal = ZERO


class Amounts(Model):
    """The money columns of a statement."""

    net_sales: Decimal = ZERO
    royalty_earned: Decimal = ZERO
    guaranteed_due: Decimal = ZERO
    amount_due: Decimal = ZERO
    unlicensed_royalty: Decimal = ZERO
    """Royalty charged on sales outside the licensed scope (on top of the guarantee)."""


class PeriodCharge(Amounts):
    """What one period's sales produce; feeds a `period` statement."""

    contract_year: int
    ytd_net_sales: Decimal
    earned_to_date: Decimal
    """`royalty_earned` is the part earned this period, in cents (difference of rounded
    cumulative amounts)."""


class YearEndTrueUp(Model):
    """Year-end settlement of the minimum guarantee; feeds a `true_up` statement."""

    contract_year: int
    ytd_net_sales: Decimal
    earned: Decimal
    advance_credit: Decimal
    invoiced: Decimal
    minimum_guarantee: Decimal
    amount_due: Decimal

    def amounts(self) -> Amounts:
        """The `true_up` statement's money: year-to-date sales, earned, MG, shortfall."""
        return Amounts(
            net_sales=self.ytd_net_sales,
            royalty_earned=self.earned,
            guaranteed_due=self.minimum_guarantee,
            amount_due=self.amount_due,
        )


def open_year(contract_year: int, terms: Terms) -> ContractYearLedger:
    """A fresh ledger; the year-1 advance counts as invoiced from the start."""
    credit = advance_credit_for(contract_year, terms)
    return ContractYearLedger(contract_year=contract_year, invoiced=credit, advance_credit=credit)


def apply_period(
    ledger: ContractYearLedger,
    period_net_sales: Decimal,
    terms: Terms,
    contract_year: int,
    decimals: int = 2,
) -> tuple[ContractYearLedger, PeriodCharge]:
    """Add one period's net sales (may be a negative correction) and compute its invoice."""
    if contract_year != ledger.contract_year:
        raise ValueError(
            f"period belongs to contract year {contract_year}, ledger is for year "
            f"{ledger.contract_year}; close the year and open a new ledger"
        )
    ytd = ledger.ytd_net_sales + period_net_sales
    if ytd < 0:
        raise ValueError("year-to-date net sales cannot become negative")
    earned = earned_royalty(ytd, terms.royalty_tiers)
    owed = max(ledger.advance_credit, to_cents(earned, decimals))
    amount_due = max(ZERO, owed - ledger.invoiced)
    new_ledger = ledger.model_copy(
        update={"ytd_net_sales": ytd, "earned": earned, "invoiced": ledger.invoiced + amount_due}
    )
    charge = PeriodCharge(
        contract_year=contract_year,
        net_sales=period_net_sales,
        ytd_net_sales=ytd,
        royalty_earned=to_cents(earned, decimals) - to_cents(ledger.earned, decimals),
        earned_to_date=to_cents(earned, decimals),
        guaranteed_due=ledger.advance_credit,
        amount_due=amount_due,
    )
    return new_ledger, charge


def close_year(ledger: ContractYearLedger, terms: Terms, decimals: int = 2) -> YearEndTrueUp:
    """Minimum-guarantee shortfall: max(0, MG - max(E, advance credit, invoiced))."""
    minimum = terms.minimum_guarantee_per_year
    covered = max(to_cents(ledger.earned, decimals), ledger.advance_credit, ledger.invoiced)
    return YearEndTrueUp(
        contract_year=ledger.contract_year,
        ytd_net_sales=ledger.ytd_net_sales,
        earned=to_cents(ledger.earned, decimals),
        advance_credit=ledger.advance_credit,
        invoiced=ledger.invoiced,
        minimum_guarantee=minimum,
        amount_due=to_cents(max(ZERO, minimum - covered), decimals),
    )


# ---- contract-year books (every money event recomputes the year) ----------------------
#
# Rule (runs recorded before patch `year-books` used `apply_period`/`close_year` above):
#
# * A contract year's book holds the latest booked version of each of its periods: licensed
#   net sales N_p and unlicensed net sales X_p (either may be negative: returns).
# * E = earned_royalty(max(0, sum N_p)), the tiers over the year-to-date base floored at 0;
#   U = max(0, sum X_p) x the unlicensed rate (`Terms.unlicensed_rate`); each rounded half
#   up to the currency's minor unit.
# * The guarantee G is the advance credit while the year is open; settling the year (its
#   true-up at the year end, or the final statement of a terminated deal) raises it to
#   max(advance credit, MG), with MG pro rata to the periods ended in full when a deal is
#   terminated within the year. G never goes down again.
# * Owed = max(G, E) + U: unlicensed royalty comes on top of the guarantee, so a breach is
#   never absorbed by a shortfall.
# * Billed = advance credit + every statement amount of the year. Each money event (a
#   period's report, a late report, a correction, the true-up, the final statement)
#   issues one statement for Owed - Billed: positive is an invoice, negative a credit
#   note. Hence, per year, advance credit + all statements = max(G, E) + U, whatever
#   order reports, corrections and returns came in, and nothing is credited below G.


class BookedPeriod(Model):
    """The latest booked report of a period."""

    net_sales: Decimal = ZERO
    unlicensed_net_sales: Decimal = ZERO
    version: int | None = None


class YearBook(Model):
    """One contract year: booked periods, the guarantee in force and what has been billed."""

    contract_year: int = Field(ge=1)
    advance_credit: Decimal = ZERO
    guarantee: Decimal = ZERO
    """Advance credit while open; max(advance credit, MG or its pro rata share) once settled."""
    billed: Decimal = ZERO
    """Advance credit plus every statement amount of the year."""
    settled: bool = False
    periods: dict[int, BookedPeriod] = Field(default_factory=dict)


class YearOwed(Model):
    """What a year owes from its booked periods (every figure at the minor unit)."""

    net_sales: Decimal
    """Year-to-date licensed net sales (may be negative; the royalty base is floored at 0)."""
    earned: Decimal
    unlicensed_net_sales: Decimal
    unlicensed_royalty: Decimal
    guarantee: Decimal
    total: Decimal


def open_book(contract_year: int, terms: Terms) -> YearBook:
    """A new year: the year-1 advance is billed (paid at signing) and guaranteed."""
    credit = advance_credit_for(contract_year, terms)
    return YearBook(
        contract_year=contract_year, advance_credit=credit, guarantee=credit, billed=credit
    )


def year_owed(book: YearBook, terms: Terms, decimals: int = 2) -> YearOwed:
    """Owed = max(G, E) + U from the booked periods (see the rule above)."""
    net = sum((p.net_sales for p in book.periods.values()), ZERO)
    unlicensed = sum((p.unlicensed_net_sales for p in book.periods.values()), ZERO)
    earned = to_cents(earned_royalty(max(ZERO, net), terms.royalty_tiers), decimals)
    charged = to_cents(max(ZERO, unlicensed) * terms.unlicensed_rate(), decimals)
    return YearOwed(
        net_sales=net,
        earned=earned,
        unlicensed_net_sales=unlicensed,
        unlicensed_royalty=charged,
        guarantee=book.guarantee,
        total=max(book.guarantee, earned) + charged,
    )


def _bill(
    before: YearBook, after: YearBook, terms: Terms, decimals: int, net_sales: Decimal
) -> tuple[YearBook, Amounts]:
    old, new = year_owed(before, terms, decimals), year_owed(after, terms, decimals)
    amount = new.total - after.billed
    charge = Amounts(
        net_sales=net_sales,
        royalty_earned=new.earned - old.earned,
        unlicensed_royalty=new.unlicensed_royalty - old.unlicensed_royalty,
        guaranteed_due=new.guarantee,
        amount_due=amount,
    )
    return after.model_copy(update={"billed": after.billed + amount}), charge


def book_report(
    book: YearBook,
    period: int,
    booked: BookedPeriod,
    terms: Terms,
    decimals: int = 2,
) -> tuple[YearBook, Amounts]:
    """Book a period's latest report (first report, late report or correction).

    The statement's `net_sales` is the change of the period's licensed net sales;
    `amount_due` is Owed - Billed (negative: a credit note)."""
    previous = book.periods.get(period, BookedPeriod())
    after = book.model_copy(update={"periods": {**book.periods, period: booked}})
    return _bill(book, after, terms, decimals, booked.net_sales - previous.net_sales)


def settle_year(
    book: YearBook, guarantee_due: Decimal, terms: Terms, decimals: int = 2
) -> tuple[YearBook, Amounts]:
    """Settle the year's guarantee (true-up or final statement): G = max(G, guarantee_due).

    The statement shows the year's totals (net sales, earned, unlicensed royalty, G) and
    Owed - Billed. Settling twice never bills twice: G only goes up, and what was billed
    counts."""
    guarantee = max(book.guarantee, to_cents(guarantee_due, decimals))
    after = book.model_copy(update={"guarantee": guarantee, "settled": True})
    owed = year_owed(after, terms, decimals)
    amount = owed.total - book.billed
    summary = Amounts(
        net_sales=owed.net_sales,
        royalty_earned=owed.earned,
        unlicensed_royalty=owed.unlicensed_royalty,
        guaranteed_due=guarantee,
        amount_due=amount,
    )
    return after.model_copy(update={"billed": book.billed + amount}), summary


def pro_rata_guarantee(
    terms: Terms, ended_periods: int, periods_per_year: int, decimals: int = 2
) -> Decimal:
    """The minimum guarantee of a year cut short: MG x ended periods / periods per year."""
    ended = Decimal(min(ended_periods, periods_per_year))
    # multiply before dividing: MG x 1/3 would round 1.5 / 3 = 0.4999... down at a half unit
    return to_cents(terms.minimum_guarantee_per_year * ended / periods_per_year, decimals)


def book_from_legacy(
    contract_year: int,
    terms: Terms,
    periods: dict[int, BookedPeriod],
    billed: Decimal,
    settled: bool,
    decimals: int = 2,
) -> YearBook:
    """A year booked by a run before `year-books` (its ledger or closed-year summary).

    Those runs never charged unlicensed sales: the unlicensed royalty of the periods booked
    here counts as billed, so only a later change of those figures is charged."""
    book = open_book(contract_year, terms)
    guarantee = (
        max(book.advance_credit, terms.minimum_guarantee_per_year) if settled else book.guarantee
    )
    book = book.model_copy(update={"periods": periods, "guarantee": guarantee, "settled": settled})
    uncharged = year_owed(book, terms, decimals).unlicensed_royalty
    # billed at the minor unit (runs before currency-minor-units billed yen in cents)
    return book.model_copy(update={"billed": to_cents(billed, decimals) + uncharged})
