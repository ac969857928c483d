"""Royalty math per contract year: tiered earned royalty, advance, minimum guarantee, true-up.

Deals use the contract-year books at the end of this module (patch `year-books`): every
money event recomputes its year and bills the difference, credit notes included, so that
per contract year y, at every moment,

    A_y + all statements of y = max(G_y, E_y) + U_y - R_y  (>= G_y + U_y)

with A_y the advance in year 1 (else 0), G_y the guarantee in force, E_y the earned royalty
(per rate-card row, `domain.rate_cards`), U_y the unlicensed royalty and R_y the carried
advance recouped in year y >= 2 (advance recoupable across the term only; else 0). The
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

from collections.abc import Mapping
from decimal import Decimal

from pydantic import Field

from domain.common import Model
from domain.currency import to_minor
from domain.deal import Terms
from domain.rate_cards import DEFAULT_LABEL, RowRoyalty, RowSales, sum_rows
from domain.rate_cards import earned_royalty as earned_royalty  # it lived here

ZERO = Decimal(0)


def _empty(value: object) -> bool:
    return not value


def to_cents(amount: Decimal, decimals: int = 2) -> Decimal:
    """Round an amount to the currency's minor unit (cents by default), half up."""
    return to_minor(amount, decimals)


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
    breakdown: list[RowRoyalty] = Field(default_factory=list, exclude_if=_empty)
    """Which rate-card row applied to what (deals with a rate card only; empty otherwise)."""


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
#   net sales N_p (with, for a deal with a rate card, the part and the units of each row)
#   and unlicensed net sales X_p (either may be negative: returns).
# * E = the sum over the rate-card rows and the default row of each row's royalty, rounded
#   half up to the currency's minor unit (`domain.rate_cards`): a tiered row earns its
#   tiers on max(0, its year-to-date net sales), a per-unit row its rate x its units; the
#   default row earns `royalty_tiers` on max(0, the rest of sum N_p). Without a rate card
#   that is E = round(tiers(max(0, sum N_p))). U = round(max(0, sum X_p) x the unlicensed
#   rate (`Terms.unlicensed_rate`)).
# * The guarantee G is the advance credit A_y (the advance in year 1, else 0) while the
#   year is open; settling the year (its true-up at the year end, or the final statement of
#   a terminated deal) raises it to max(A_y, M_y), M_y the year's MG
#   (`Terms.minimum_guarantee_for`), pro rata to the periods ended in full when a deal is
#   terminated within the year. G never goes down again.
# * Recoupable advance (`advance_recoupable_across_term`; R_y = 0 without it): year 1
#   uses min(A, max(M_1, E_1)) of the advance (it counts toward everything year 1 owes, as
#   without the option; M_1 = 0 while year 1 is open) and carries C_2 = A - that into later
#   years. In a year y >= 2, royalty earned beyond the guarantee recoups it first:
#   R_y = min(C_y, max(0, E_y - G_y)), and C_(y+1) = C_y - R_y. The guarantee itself is
#   always billed.
# * Owed = max(G, E) + U - R: unlicensed royalty comes on top of the guarantee, so a
#   breach is never absorbed by a shortfall or by the advance.
# * Billed = A_y + every statement amount of the year. Each money event (a period's
#   report, a late report, a correction, the true-up, the final statement) issues one
#   statement for Owed - Billed: positive is an invoice, negative a credit note; with the
#   recoupable advance, every later year whose R changed with it gets one more statement
#   (`carry_forward`). Hence, per contract year y at every moment:
#       A_y + all statements of y = max(G_y, E_y) + U_y - R_y,
#   whatever order reports, corrections and returns came in, and nothing is credited below
#   G_y + U_y.


def _no_rows(rows: dict[int, RowSales]) -> bool:
    return not rows


class BookedPeriod(Model):
    """The latest booked report of a period."""

    net_sales: Decimal = ZERO
    unlicensed_net_sales: Decimal = ZERO
    version: int | None = None
    rows: dict[int, RowSales] = Field(default_factory=dict, exclude_if=_no_rows)
    """Licensed net sales and units per rate-card row (by index); lines no row takes (the
    default row) are the rest of `net_sales`."""

    def figures(self) -> tuple[Decimal, Decimal, dict[int, RowSales]]:
        """What the money depends on (a correction with the same figures bills nothing)."""
        return self.net_sales, self.unlicensed_net_sales, self.rows


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
    minimum_guarantee: Decimal = Field(default=ZERO, exclude_if=_empty)
    """M_y, the MG (or its pro rata share) the year was settled at, without the advance."""


class YearOwed(Model):
    """What a year owes from its booked periods (every figure at the minor unit)."""

    net_sales: Decimal
    """Year-to-date licensed net sales (may be negative; the royalty base is floored at 0)."""
    earned: Decimal
    unlicensed_net_sales: Decimal
    unlicensed_royalty: Decimal
    guarantee: Decimal
    total: Decimal
    recouped: Decimal = ZERO
    """R_y: advance recouped by this year's royalty beyond its guarantee."""
    rows: list[RowRoyalty] = Field(default_factory=list)
    """The year's royalty per rate-card row, then the default row (with a rate card only)."""


def open_book(contract_year: int, terms: Terms) -> YearBook:
    """A new year: the year-1 advance is billed (paid at signing) and guaranteed."""
    credit = advance_credit_for(contract_year, terms)
    return YearBook(
        contract_year=contract_year, advance_credit=credit, guarantee=credit, billed=credit
    )


def year_royalty(
    book: YearBook, terms: Terms, decimals: int = 2
) -> tuple[Decimal, list[RowRoyalty]]:
    """E and, for a deal with a rate card, each row's share (rounded per row)."""
    net = sum((p.net_sales for p in book.periods.values()), ZERO)
    if not terms.rate_card:
        return to_cents(earned_royalty(max(ZERO, net), terms.royalty_tiers), decimals), []
    totals = sum_rows(p.rows for p in book.periods.values())
    rows: list[RowRoyalty] = []
    for index, row in enumerate(terms.rate_card):
        sales = totals.get(index, RowSales())
        rows.append(
            RowRoyalty(
                row=index,
                label=row.name(),
                basis=row.basis,
                net_sales=sales.net_sales,
                units=sales.units,
                royalty_earned=to_cents(row.earned(sales), decimals),
            )
        )
    rest = net - sum((r.net_sales for r in totals.values()), ZERO)
    rows.append(
        RowRoyalty(
            row=None,
            label=DEFAULT_LABEL,
            basis="tiers",
            net_sales=rest,
            royalty_earned=to_cents(earned_royalty(max(ZERO, rest), terms.royalty_tiers), decimals),
        )
    )
    return sum((r.royalty_earned for r in rows), ZERO), rows


def year_owed(book: YearBook, terms: Terms, decimals: int = 2, carried: Decimal = ZERO) -> YearOwed:
    """Owed = max(G, E) + U - R from the booked periods (see the rule above); `carried` is
    C_y, the advance still to recoup when the year starts (`advance_carried`)."""
    net = sum((p.net_sales for p in book.periods.values()), ZERO)
    unlicensed = sum((p.unlicensed_net_sales for p in book.periods.values()), ZERO)
    earned, rows = year_royalty(book, terms, decimals)
    charged = to_cents(max(ZERO, unlicensed) * terms.unlicensed_rate(), decimals)
    recouped = _recouped(carried, earned, book) if book.contract_year > 1 else ZERO
    return YearOwed(
        net_sales=net,
        earned=earned,
        unlicensed_net_sales=unlicensed,
        unlicensed_royalty=charged,
        guarantee=book.guarantee,
        total=max(book.guarantee, earned) + charged - recouped,
        recouped=recouped,
        rows=rows,
    )


def advance_carried(
    books: Mapping[int, YearBook], contract_year: int, terms: Terms, decimals: int = 2
) -> Decimal:
    """C_y: the advance still to recoup when `contract_year` starts (0 in year 1, and
    without `advance_recoupable_across_term`). A year without a book uses none."""
    if not terms.advance_recoupable_across_term or contract_year <= 1 or terms.advance <= 0:
        return ZERO
    first = books.get(1)
    used = ZERO
    if first is not None:
        used = max(first.minimum_guarantee, year_royalty(first, terms, decimals)[0])
    carry = max(ZERO, terms.advance - used)
    for year in range(2, contract_year):
        book = books.get(year)
        if carry <= 0:
            break
        if book is not None:
            carry -= _recouped(carry, year_royalty(book, terms, decimals)[0], book)
    return carry


def _recouped(carried: Decimal, earned: Decimal, book: YearBook) -> Decimal:
    """R_y = min(C_y, max(0, E_y - G_y)): royalty beyond the year's guarantee recoups the
    carried advance (0 when nothing is carried)."""
    return min(max(ZERO, carried), max(ZERO, earned - book.guarantee))


def advance_unrecouped(books: Mapping[int, YearBook], terms: Terms, decimals: int = 2) -> Decimal:
    """The advance still to recoup after the latest booked year (recoupable advance)."""
    return advance_carried(books, max(books, default=0) + 1, terms, decimals)


def _breakdown(old: YearOwed, new: YearOwed) -> list[RowRoyalty]:
    """The rows a money event changed: the change of each row's sales and royalty."""
    before = {r.row: r for r in old.rows}
    changes = []
    for row in new.rows:
        prior = before.get(row.row)
        if prior is None:
            changes.append(row)
            continue
        change = row.model_copy(
            update={
                "net_sales": row.net_sales - prior.net_sales,
                "units": None if row.units is None else row.units - (prior.units or 0),
                "royalty_earned": row.royalty_earned - prior.royalty_earned,
            }
        )
        if change.net_sales or change.units or change.royalty_earned:
            changes.append(change)
    return changes


def _totals(owed: YearOwed) -> list[RowRoyalty]:
    return [r for r in owed.rows if r.net_sales or r.units or r.royalty_earned]


def _bill(
    before: YearBook,
    after: YearBook,
    terms: Terms,
    decimals: int,
    net_sales: Decimal,
    carried: Decimal,
) -> tuple[YearBook, Amounts]:
    old = year_owed(before, terms, decimals, carried)
    new = year_owed(after, terms, decimals, carried)
    amount = new.total - after.billed
    charge = Amounts(
        net_sales=net_sales,
        royalty_earned=new.earned - old.earned,
        unlicensed_royalty=new.unlicensed_royalty - old.unlicensed_royalty,
        guaranteed_due=new.guarantee,
        amount_due=amount,
        breakdown=_breakdown(old, new),
    )
    return after.model_copy(update={"billed": after.billed + amount}), charge


def book_report(
    book: YearBook,
    period: int,
    booked: BookedPeriod,
    terms: Terms,
    decimals: int = 2,
    carried: Decimal = ZERO,
) -> tuple[YearBook, Amounts]:
    """Book a period's latest report (first report, late report or correction).

    The statement's `net_sales` is the change of the period's licensed net sales;
    `amount_due` is Owed - Billed (negative: a credit note)."""
    previous = book.periods.get(period, BookedPeriod())
    after = book.model_copy(update={"periods": {**book.periods, period: booked}})
    return _bill(book, after, terms, decimals, booked.net_sales - previous.net_sales, carried)


def settle_year(
    book: YearBook,
    guarantee_due: Decimal,
    terms: Terms,
    decimals: int = 2,
    carried: Decimal = ZERO,
) -> tuple[YearBook, Amounts]:
    """Settle the year's guarantee (true-up or final statement): G = max(G, guarantee_due).

    The statement shows the year's totals (net sales, earned, unlicensed royalty, G, the
    rows) and Owed - Billed. Settling twice never bills twice: G only goes up, and what was
    billed counts."""
    due = to_cents(guarantee_due, decimals)
    after = book.model_copy(
        update={
            "guarantee": max(book.guarantee, due),
            "minimum_guarantee": max(book.minimum_guarantee, due),
            "settled": True,
        }
    )
    owed = year_owed(after, terms, decimals, carried)
    amount = owed.total - book.billed
    summary = Amounts(
        net_sales=owed.net_sales,
        royalty_earned=owed.earned,
        unlicensed_royalty=owed.unlicensed_royalty,
        guaranteed_due=after.guarantee,
        amount_due=amount,
        breakdown=_totals(owed),
    )
    return after.model_copy(update={"billed": book.billed + amount}), summary


def rebill(
    book: YearBook, terms: Terms, decimals: int = 2, carried: Decimal = ZERO
) -> tuple[YearBook, Amounts]:
    """Bill a year whose figures did not change but whose carried advance did: Owed -
    Billed, nothing else on the statement but the guarantee."""
    owed = year_owed(book, terms, decimals, carried)
    amount = owed.total - book.billed
    charge = Amounts(guaranteed_due=owed.guarantee, amount_due=amount)
    return book.model_copy(update={"billed": book.billed + amount}), charge


def carry_forward(
    books: Mapping[int, YearBook], contract_year: int, terms: Terms, decimals: int = 2
) -> list[tuple[int, YearBook, Amounts]]:
    """After a money event in `contract_year`: every later booked year whose owed changed
    with the advance carried into it, rebilled (year, new book, statement amounts), in
    year order. Empty without a recoupable advance."""
    if not terms.advance_recoupable_across_term or terms.advance <= 0:
        return []
    current = dict(books)
    out: list[tuple[int, YearBook, Amounts]] = []
    for year in sorted(y for y in current if y > contract_year):
        carried = advance_carried(current, year, terms, decimals)
        book, charge = rebill(current[year], terms, decimals, carried)
        if charge.amount_due != 0:
            current[year] = book
            out.append((year, book, charge))
    return out


def pro_rata_guarantee(
    terms: Terms,
    ended_periods: int,
    periods_per_year: int,
    decimals: int = 2,
    contract_year: int = 1,
) -> Decimal:
    """The minimum guarantee of a year cut short: MG x ended periods / periods per year."""
    ended = Decimal(min(ended_periods, periods_per_year))
    minimum = terms.minimum_guarantee_for(contract_year)
    # multiply before dividing: MG x 1/3 would round 1.5 / 3 = 0.4999... down at a half unit
    return to_cents(minimum * ended / periods_per_year, decimals)


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
    minimum = terms.minimum_guarantee_for(contract_year) if settled else ZERO
    guarantee = max(book.advance_credit, minimum) if settled else book.guarantee
    book = book.model_copy(
        update={
            "periods": periods,
            "guarantee": guarantee,
            "settled": settled,
            "minimum_guarantee": minimum,
        }
    )
    uncharged = year_owed(book, terms, decimals).unlicensed_royalty
    # billed at the minor unit (runs before currency-minor-units billed yen in cents)
    return book.model_copy(update={"billed": to_cents(billed, decimals) + uncharged})
