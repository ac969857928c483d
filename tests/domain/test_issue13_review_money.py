"""Review of issue 13 (rate cards, recoupable advance): tricky cases against arithmetic done
by hand in the comments (never by the code under test): per-unit rows in JPY and BHD, a
row's year-to-date base going negative then positive, a tier bound hit exactly, a
correction moving sales from one row to another, a recoupable advance with a termination
mid-year; every statement's breakdown adds up to its royalty."""

from __future__ import annotations

from decimal import Decimal

from domain.common import LicensedScope
from domain.deal import RateCardRow, RoyaltyTier, Terms
from domain.rate_cards import earned_royalty
from domain.royalty import (
    Amounts,
    BookedPeriod,
    YearBook,
    advance_carried,
    book_report,
    open_book,
    pro_rata_guarantee,
    settle_year,
    to_cents,
)
from domain.sales import SalesLine
from domain.sales_check import check_sales

D = Decimal
SCOPE = LicensedScope(categories=["apparel", "toys"], territories=["DE", "FR"], channels=["online"])


def sale(category: str, net: str, units: int = 0, returns: str = "0") -> SalesLine:
    return SalesLine(
        sku="SKU",
        category=category,
        territory="DE",
        channel="online",
        units=units,
        gross_sales=D(net),
        returns=D(returns),
    )


class Ledger:
    """Year books of one deal, driven like `workflows/deal/books.py` (4 periods a year)."""

    def __init__(self, terms: Terms) -> None:
        self.terms = terms
        self.decimals = terms.minor_unit
        self.books: dict[int, YearBook] = {}

    def year_of(self, period: int) -> int:
        return (period - 1) // 4 + 1

    def report(self, period: int, lines: list[SalesLine], version: int = 1) -> Amounts:
        year = self.year_of(period)
        check = check_sales(lines, SCOPE, self.terms.rate_card)
        booked = BookedPeriod(net_sales=check.net_sales, version=version, rows=check.rows)
        book = self.books.setdefault(year, open_book(year, self.terms))
        carried = advance_carried(self.books, year, self.terms, self.decimals)
        self.books[year], charge = book_report(
            book, period, booked, self.terms, self.decimals, carried
        )
        self._adds_up(charge)
        return charge

    def settle(self, year: int, guarantee: Decimal) -> Amounts:
        carried = advance_carried(self.books, year, self.terms, self.decimals)
        book = self.books.setdefault(year, open_book(year, self.terms))
        self.books[year], summary = settle_year(book, guarantee, self.terms, self.decimals, carried)
        self._adds_up(summary)
        return summary

    def _adds_up(self, amounts: Amounts) -> None:
        """A rate-card deal's statement breakdown adds up to its royalty (none without)."""
        if self.terms.rate_card:
            total = sum((r.royalty_earned for r in amounts.breakdown), D(0))
            assert total == amounts.royalty_earned
        else:
            assert amounts.breakdown == []


def test_per_unit_rows_round_to_the_yen_and_the_fils_half_up() -> None:
    # JPY (no minor unit): 3 units x 12.5 = 37.5 -> 38 yen
    yen = Terms(
        currency="JPY",
        royalty_tiers=[RoyaltyTier(rate=D("0.05"))],
        rate_card=[RateCardRow(category="toys", per_unit=D("12.5"))],
    )
    charge = Ledger(yen).report(1, [sale("toys", "9000", units=3)])
    assert (charge.royalty_earned, charge.amount_due) == (D(38), D(38))
    # BHD (3 decimals): 3 units x 0.0125 = 0.0375 -> 0.038
    fils = Terms(
        currency="BHD",
        royalty_tiers=[RoyaltyTier(rate=D("0.05"))],
        rate_card=[RateCardRow(category="toys", per_unit=D("0.0125"))],
    )
    charge = Ledger(fils).report(1, [sale("toys", "9", units=3)])
    assert (charge.royalty_earned, charge.amount_due) == (D("0.038"), D("0.038"))


def test_a_rows_base_going_negative_then_positive_is_floored_per_row() -> None:
    terms = Terms(
        royalty_tiers=[RoyaltyTier(rate=D("0.05"))],
        rate_card=[RateCardRow(category="apparel", royalty_tiers=[RoyaltyTier(rate=D("0.08"))])],
    )
    ledger = Ledger(terms)
    # p1: apparel returns 10,000 (row YTD -10,000 -> 0), toys 10,000 at 5% = 500
    p1 = ledger.report(1, [sale("apparel", "0", returns="10000"), sale("toys", "10000")])
    assert (p1.royalty_earned, p1.amount_due) == (D(500), D(500))
    # p2: apparel 30,000 -> row YTD 20,000 x 8% = 1,600; toys unchanged
    p2 = ledger.report(2, [sale("apparel", "30000")])
    assert (p2.royalty_earned, p2.amount_due) == (D(1_600), D(1_600))
    assert [(r.row, r.net_sales, r.royalty_earned) for r in p2.breakdown] == [
        (0, D(30_000), D(1_600))
    ]


def test_a_tier_bound_hit_exactly_and_a_cent_past_it() -> None:
    tiers = [RoyaltyTier(up_to=D(100_000), rate=D("0.08")), RoyaltyTier(rate=D("0.10"))]
    # 100,000 x 8% = 8,000 exactly
    assert earned_royalty(D(100_000), tiers) == D(8_000)
    # 100,000.05: 8,000 + 0.05 x 10% = 8,000.005 -> 8,000.01 (half up)
    assert to_cents(earned_royalty(D("100000.05"), tiers)) == D("8000.01")


def test_a_correction_moving_sales_between_rows_credits_the_difference() -> None:
    terms = Terms(
        royalty_tiers=[RoyaltyTier(rate=D("0.05"))],
        rate_card=[
            RateCardRow(category="apparel", royalty_tiers=[RoyaltyTier(rate=D("0.08"))]),
            RateCardRow(category="toys", per_unit=D("0.5")),
        ],
    )
    ledger = Ledger(terms)
    # v1: apparel 100,000 (10 units) -> 8,000
    first = ledger.report(1, [sale("apparel", "100000", units=10)])
    assert first.amount_due == D(8_000)
    # v2: the same sales were toys, 1,000 units -> 500: a 7,500 credit note
    moved = ledger.report(1, [sale("toys", "100000", units=1_000)], version=2)
    assert (moved.royalty_earned, moved.amount_due) == (D(-7_500), D(-7_500))
    assert [(r.row, r.net_sales, r.units, r.royalty_earned) for r in moved.breakdown] == [
        (0, D(-100_000), -10, D(-8_000)),
        (1, D(100_000), 1_000, D(500)),
    ]


def test_a_recoupable_advance_with_a_termination_mid_year_two() -> None:
    """Advance 10,000 recoupable, MG 8,000 a year, 10% on everything, 4 periods a year."""
    terms = Terms(
        royalty_tiers=[RoyaltyTier(rate=D("0.10"))],
        advance=D(10_000),
        minimum_guarantee_per_year=D(8_000),
        advance_recoupable_across_term=True,
    )
    ledger = Ledger(terms)
    # year 1: 4 x 5,000 = 20,000 sales -> E1 2,000, all within the advance
    for period in range(1, 5):
        assert ledger.report(period, [sale("apparel", "5000")]).amount_due == 0
    # true-up: G1 = max(10,000, 8,000): nothing due; carried: 10,000 - max(8,000, 2,000)
    assert ledger.settle(1, terms.minimum_guarantee_for(1)).amount_due == 0
    assert advance_carried(ledger.books, 2, terms) == D(2_000)
    # p5: 50,000 -> E2 5,000; year open (G 0): recouped min(2,000, 5,000) -> 3,000 due
    assert ledger.report(5, [sale("apparel", "50000")]).amount_due == D(3_000)
    assert ledger.report(6, []).amount_due == 0
    # terminated in p7: 2 periods ended in full -> MG 8,000 x 2 / 4 = 4,000; recouped
    # min(2,000, 5,000 - 4,000) = 1,000; owed 5,000 - 1,000 = 4,000; billed 3,000 -> 1,000
    pro_rata = pro_rata_guarantee(terms, 2, 4, 2, 2)
    assert pro_rata == D(4_000)
    final = ledger.settle(2, pro_rata)
    assert final.amount_due == D(1_000)
    assert ledger.books[2].billed == D(4_000)
