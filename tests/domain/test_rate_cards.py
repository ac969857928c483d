"""Rate cards, MG schedule and a recoupable advance (`domain/rate_cards.py`,
`domain/royalty.py`): validation, row precedence, and a three-year book worked out by hand.

Terms of the worked example (EUR, two periods a contract year):
  default `royalty_tiers` 5%;
  row 0 apparel / DE / online: 8% up to 100,000, then 10%;
  row 1 toys (any territory, any channel): 0.50 per unit;
  row 2 apparel / DACH (any channel): 6%;
  MG schedule 20,000 / 30,000 / 40,000; advance 50,000, recoupable across the term.
Every expected figure below is computed in the comments, not by the code under test.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from money_reference import (
    Event,
    MoneyModel,
    RefLine,
    RefRow,
    RefTerms,
    Report,
    YearEnd,
)
from pydantic import ValidationError

from domain import examples
from domain.common import LicensedScope
from domain.deal import DealRequest, RateCardRow, RoyaltyTier, Terms
from domain.rate_cards import row_for
from domain.royalty import (
    Amounts,
    BookedPeriod,
    YearBook,
    advance_carried,
    advance_unrecouped,
    book_report,
    carry_forward,
    open_book,
    settle_year,
    year_owed,
)
from domain.sales import SalesLine
from domain.sales_check import check_sales
from domain.signed_terms import signed_terms, terms_hash

D = Decimal
SCOPE = LicensedScope(
    categories=["apparel", "toys"], territories=["DE", "AT", "FR"], channels=["online", "retail"]
)


def worked_terms(**overrides: Any) -> Terms:
    data: dict[str, Any] = {
        "royalty_tiers": [RoyaltyTier(rate=D("0.05"))],
        "rate_card": [
            RateCardRow(
                category="apparel",
                territory="DE",
                channel="online",
                royalty_tiers=[
                    RoyaltyTier(up_to=D(100_000), rate=D("0.08")),
                    RoyaltyTier(rate=D("0.10")),
                ],
            ),
            RateCardRow(category="toys", per_unit=D("0.50")),
            RateCardRow(
                category="apparel", territory="DACH", royalty_tiers=[RoyaltyTier(rate=D("0.06"))]
            ),
        ],
        "minimum_guarantee_schedule": [D(20_000), D(30_000), D(40_000)],
        "advance": D(50_000),
        "advance_recoupable_across_term": True,
    }
    data.update(overrides)
    return Terms(**data)


def sale(category: str, territory: str, channel: str, net: int, units: int = 0) -> SalesLine:
    return SalesLine(
        sku="SKU",
        category=category,
        territory=territory,
        channel=channel,
        units=units,
        gross_sales=D(net),
    )


class Books:
    """Year books driven as `workflows/deal/books.py` drives them (two periods a year)."""

    def __init__(self, terms: Terms) -> None:
        self.terms = terms
        self.books: dict[int, YearBook] = {}
        self.issued: dict[str, Amounts] = {}

    def book(self, year: int) -> YearBook:
        return self.books.setdefault(year, open_book(year, self.terms))

    def report(self, period: int, lines: list[SalesLine], version: int = 1) -> Amounts:
        year = (period + 1) // 2
        check = check_sales(lines, SCOPE, self.terms.rate_card)
        booked = BookedPeriod(net_sales=check.net_sales, version=version, rows=check.rows)
        carried = advance_carried(self.books, year, self.terms)
        self.books[year], charge = book_report(
            self.book(year), period, booked, self.terms, 2, carried
        )
        key = f"y{year}:p{period}" + ("" if version == 1 else f":v{version}")
        return self._issue(year, key, charge)

    def true_up(self, year: int) -> Amounts:
        carried = advance_carried(self.books, year, self.terms)
        self.books[year], summary = settle_year(
            self.book(year), self.terms.minimum_guarantee_for(year), self.terms, 2, carried
        )
        return self._issue(year, f"y{year}:true-up", summary)

    def _issue(self, year: int, key: str, amounts: Amounts) -> Amounts:
        self.issued[key] = amounts
        for later, book, charge in carry_forward(self.books, year, self.terms):
            self.books[later] = book
            self.issued[f"y{later}:carry:{key}"] = charge
        return amounts

    def due(self) -> dict[str, Decimal]:
        return {key: a.amount_due for key, a in self.issued.items()}


# ---- validation ---------------------------------------------------------------------------


def deal_body(**terms: Any) -> dict[str, Any]:
    body = copy.deepcopy(examples.DEAL)
    body["plan"]["scope"] = {
        "categories": ["apparel", "toys"],
        "territories": ["DE", "FR"],
        "channels": ["online"],
    }
    body["terms"].update(terms)
    return body


def errors(body: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        DealRequest.model_validate(body)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


def test_the_rate_card_example_is_a_valid_deal() -> None:
    deal = DealRequest.model_validate(examples.DEAL_WITH_RATE_CARD)
    assert deal.terms.rate_card and deal.terms.minimum_guarantee_schedule
    assert deal.terms.advance_recoupable_across_term


@pytest.mark.parametrize(
    ("terms", "field", "message"),
    [
        (
            {"rate_card": [{"category": "toys"}]},
            "terms.rate_card.0",
            "give either royalty_tiers or per_unit",
        ),
        (
            {"rate_card": [{"category": "toys", "per_unit": 1, "royalty_tiers": [{"rate": 0.1}]}]},
            "terms.rate_card.0",
            "give either royalty_tiers or per_unit",
        ),
        (
            {
                "rate_card": [
                    {"category": "toys", "per_unit": 1},
                    {"category": "TOYS", "per_unit": 2},
                ]
            },
            "terms.rate_card",
            "row 1: the same category/territory/channel as row 0",
        ),
        ({"rate_card": [{"per_unit": 1}]}, "terms.rate_card", "row 0: name a category"),
        (
            {
                "rate_card": [
                    {
                        "category": "toys",
                        "royalty_tiers": [{"up_to": 9, "rate": 0.1}, {"up_to": 5, "rate": 0.2}],
                    }
                ]
            },
            "terms.rate_card.0",
            "strictly ascending",
        ),
        (
            {"rate_card": [{"category": "toys", "per_unit": 0}]},
            "terms.rate_card.0.per_unit",
            "greater than 0",
        ),
        (
            {"rate_card": [{"territory": "US", "per_unit": 1}]},
            "terms",
            "rate_card.0.territory: US is not licensed by the plan",
        ),
        (
            {"rate_card": [{"channel": "retail", "per_unit": 1}]},
            "terms",
            "rate_card.0.channel: retail is not licensed by the plan",
        ),
        (
            {"rate_card": [{"territory": "XX", "per_unit": 1}]},
            "terms.rate_card.0.territory",
            "not an ISO 3166-1 alpha-2 country code",
        ),
        (
            {"minimum_guarantee_schedule": [20000]},
            "terms.minimum_guarantee_schedule",
            "not both",
        ),
        (
            {"minimum_guarantee_per_year": 0, "minimum_guarantee_schedule": ["20000.001"]},
            "terms.minimum_guarantee_schedule",
            "year 1: EUR amounts have at most 2 decimals",
        ),
        (
            {"minimum_guarantee_per_year": 0, "minimum_guarantee_schedule": [1] * 101},
            "terms.minimum_guarantee_schedule",
            "at most 100 items",
        ),
        (
            {"rate_card": [{"channel": f"c{i}", "per_unit": 1} for i in range(51)]},
            "terms.rate_card",
            "at most 50 items",
        ),
    ],
)
def test_bad_rate_cards_and_schedules_are_refused_naming_the_field(
    terms: dict[str, Any], field: str, message: str
) -> None:
    found = errors(deal_body(**terms))
    assert any(loc == field and message in msg for loc, msg in found), found


def test_a_region_row_sharing_a_country_with_the_scope_is_accepted() -> None:
    body = deal_body(rate_card=[{"category": "apparel", "territory": "dach", "per_unit": 1}])
    deal = DealRequest.model_validate(body)
    assert deal.terms.rate_card[0].territory == "DACH"


def test_terms_without_the_new_fields_dump_as_before() -> None:
    """Old requests keep their stored JSON and request hash: the new fields at their
    defaults are left out of every dump."""
    terms = Terms(royalty_tiers=[RoyaltyTier(rate=D("0.08"))])
    assert set(terms.model_dump(mode="json")) == {
        "currency",
        "royalty_tiers",
        "advance",
        "minimum_guarantee_per_year",
        "unlicensed",
        "payment_terms",
        "sell_off",
    }


def test_the_mg_schedule_keeps_its_last_entry_after_it_ends() -> None:
    terms = worked_terms()
    assert [terms.minimum_guarantee_for(y) for y in (1, 2, 3, 4, 5)] == [
        D(20_000),
        D(30_000),
        D(40_000),
        D(40_000),
        D(40_000),
    ]
    assert Terms(
        royalty_tiers=[RoyaltyTier(rate=D("0.05"))], minimum_guarantee_per_year=D(7)
    ).minimum_guarantee_for(9) == D(7)


# ---- row precedence ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "row"),
    [
        (("apparel", "DE", "online"), 0),  # rows 0 (3 fields) and 2 (2 fields): the more specific
        (("apparel", "AT", "online"), 2),  # AT is in DACH
        (("Apparel", "de", "retail"), 2),  # compared normalised
        (("apparel", "FR", "online"), None),  # no row: the default tiers
        (("toys", "DE", "online"), 1),
    ],
)
def test_the_most_specific_matching_row_takes_a_line(
    line: tuple[str, str, str], row: int | None
) -> None:
    category, territory, channel = line
    sales = SalesLine.model_construct(category=category, territory=territory, channel=channel)
    assert row_for(sales, worked_terms().rate_card) == row


def test_equally_specific_rows_go_to_the_first() -> None:
    rows = [
        RateCardRow(territory="DACH", per_unit=D(1)),
        RateCardRow(channel="online", per_unit=D(2)),
        RateCardRow(territory="DE", per_unit=D(3)),
    ]
    line = SalesLine.model_construct(category="toys", territory="DE", channel="online")
    assert row_for(line, rows) == 0


def test_unlicensed_sales_cost_the_highest_rate_of_every_tier() -> None:
    terms = worked_terms()
    assert terms.unlicensed_rate() == D("0.10")  # row 0's top tier beats the 5% default
    assert Terms(royalty_tiers=[RoyaltyTier(rate=D("0.08"))]).unlicensed_rate() == D("0.08")


# ---- the worked three-year book -----------------------------------------------------------


def test_three_years_of_rate_card_schedule_and_recoupable_advance() -> None:
    terms = worked_terms()
    books = Books(terms)

    # p1: apparel/DE/online 60,000 -> row 0: 60,000 x 8% = 4,800
    #     toys 10,000 units (30,000) -> row 1: 10,000 x 0.50 = 5,000
    #     apparel/AT/retail 20,000 -> row 2 (DACH): 20,000 x 6% = 1,200
    #     apparel/FR/online 10,000 -> default: 10,000 x 5% = 500
    # E = 11,500 < the 50,000 advance: 0 due
    p1 = books.report(
        1,
        [
            sale("apparel", "DE", "online", 60_000),
            sale("toys", "FR", "retail", 30_000, units=10_000),
            sale("apparel", "AT", "retail", 20_000),
            sale("apparel", "FR", "online", 10_000),
        ],
    )
    assert (p1.royalty_earned, p1.amount_due) == (D(11_500), D(0))
    assert [(r.row, r.label, r.net_sales, r.units, r.royalty_earned) for r in p1.breakdown] == [
        (0, "apparel/DE/online", D(60_000), 0, D(4_800)),
        (1, "toys/*/*", D(30_000), 10_000, D(5_000)),
        (2, "apparel/DACH/*", D(20_000), 0, D(1_200)),
        (None, "default", D(10_000), None, D(500)),
    ]
    # p2: apparel/DE/online 70,000 -> row 0 YTD 130,000: 100,000 x 8% + 30,000 x 10% =
    #     11,000 (+6,200); toys 6,000 units -> 16,000 units x 0.50 = 8,000 (+3,000)
    # E = 11,000 + 8,000 + 1,200 + 500 = 20,700: still under the advance, 0 due
    p2 = books.report(
        2,
        [
            sale("apparel", "DE", "online", 70_000),
            sale("toys", "DE", "online", 18_000, units=6_000),
        ],
    )
    assert (p2.royalty_earned, p2.amount_due) == (D(9_200), D(0))
    assert [(r.row, r.royalty_earned) for r in p2.breakdown] == [(0, D(6_200)), (1, D(3_000))]
    # true-up: MG year 1 = 20,000; G = max(50,000, 20,000): 0 due
    assert books.true_up(1).amount_due == 0
    # carried into year 2: 50,000 - max(20,000 MG, 20,700 earned) = 29,300
    assert advance_carried(books.books, 2, terms) == D(29_300)

    # p3: apparel/DE/online 200,000 -> 100,000 x 8% + 100,000 x 10% = 18,000;
    #     toys 20,000 units -> 10,000. E = 28,000; year open, G = 0:
    #     recouped min(29,300, 28,000) = 28,000 -> 0 due
    books.report(
        3,
        [
            sale("apparel", "DE", "online", 200_000),
            sale("toys", "DE", "online", 60_000, units=20_000),
        ],
    )
    # p4: apparel/FR/online 100,000 -> default 5,000. E = 33,000:
    #     recouped min(29,300, 33,000) = 29,300 -> owed 3,700
    books.report(4, [sale("apparel", "FR", "online", 100_000)])
    # true-up: G = 30,000; recouped min(29,300, 33,000 - 30,000) = 3,000:
    #     owed 33,000 - 3,000 = 30,000; billed 3,700 -> 26,300
    books.true_up(2)
    # carried into year 3: 29,300 - 3,000 = 26,300

    # p5: apparel/DE/online 500,000 -> 8,000 + 400,000 x 10% = 48,000. E = 48,000:
    #     recouped min(26,300, 48,000) = 26,300 -> owed 21,700
    books.report(5, [sale("apparel", "DE", "online", 500_000)])
    # p6: toys 10,000 units -> 5,000. E = 53,000: owed 53,000 - 26,300 = 26,700 -> 5,000
    books.report(6, [sale("toys", "DE", "online", 30_000, units=10_000)])
    # true-up: G = 40,000; recouped min(26,300, 53,000 - 40,000) = 13,000:
    #     owed 40,000; billed 26,700 -> 13,300
    books.true_up(3)

    assert books.due() == {
        "y1:p1": D(0),
        "y1:p2": D(0),
        "y1:true-up": D(0),
        "y2:p3": D(0),
        "y2:p4": D(3_700),
        "y2:true-up": D(26_300),
        "y3:p5": D(21_700),
        "y3:p6": D(5_000),
        "y3:true-up": D(13_300),
    }
    # left unrecouped at the end of the term: 26,300 - 13,000 = 13,300 (the licensor keeps it)
    assert advance_unrecouped(books.books, terms) == D(13_300)
    # per year: advance + statements = max(G, E) + U - R
    assert [books.books[y].billed for y in (1, 2, 3)] == [D(50_000), D(30_000), D(40_000)]

    # A year-1 correction in year 4's time: p2's apparel/DE/online 70,000 -> 370,000.
    # Row 0 YTD 430,000: 8,000 + 330,000 x 10% = 41,000; E1 = 41,000 + 8,000 + 1,200 + 500
    # = 50,700: year 1 owes 50,700 -> +700. Nothing is carried any more (50,000 - 50,700 <
    # 0): year 2 owes max(30,000, 33,000) = 33,000 (+3,000), year 3 53,000 (+13,000).
    books.report(
        2,
        [
            sale("apparel", "DE", "online", 370_000),
            sale("toys", "DE", "online", 18_000, units=6_000),
        ],
        version=2,
    )
    due = books.due()
    assert (due["y1:p2:v2"], due["y2:carry:y1:p2:v2"], due["y3:carry:y1:p2:v2"]) == (
        D(700),
        D(3_000),
        D(13_000),
    )
    assert [books.books[y].billed for y in (1, 2, 3)] == [D(50_700), D(33_000), D(53_000)]
    assert advance_unrecouped(books.books, terms) == 0


def test_the_worked_book_matches_the_reference_model() -> None:
    """The same three years fed to `tests/money_reference.py`."""
    rows = (
        RefRow("apparel", "DE", "online", tiers=((D(100_000), D("0.08")), (None, D("0.10")))),
        RefRow("toys", per_unit=D("0.50")),
        RefRow("apparel", "DACH", tiers=((None, D("0.06")),)),
    )
    ref = RefTerms(
        tiers=((None, D("0.05")),),
        advance=D(50_000),
        decimals=2,
        periods_per_year=2,
        rows=rows,
        mg_schedule=(D(20_000), D(30_000), D(40_000)),
        recoupable=True,
    )

    def report(period: int, *lines: RefLine, version: int = 1) -> Report:
        return Report(period, version, sum((x.net for x in lines), D(0)), lines=lines)

    events: list[Event] = [
        report(
            1,
            RefLine("apparel", "DE", "online", D(60_000)),
            RefLine("toys", "FR", "retail", D(30_000), 10_000),
            RefLine("apparel", "AT", "retail", D(20_000)),
            RefLine("apparel", "FR", "online", D(10_000)),
        ),
        report(
            2,
            RefLine("apparel", "DE", "online", D(70_000)),
            RefLine("toys", "DE", "online", D(18_000), 6_000),
        ),
        YearEnd(1),
        report(
            3,
            RefLine("apparel", "DE", "online", D(200_000)),
            RefLine("toys", "DE", "online", D(60_000), 20_000),
        ),
        report(4, RefLine("apparel", "FR", "online", D(100_000))),
        YearEnd(2),
        report(5, RefLine("apparel", "DE", "online", D(500_000))),
        report(6, RefLine("toys", "DE", "online", D(30_000), 10_000)),
        YearEnd(3),
        report(
            2,
            RefLine("apparel", "DE", "online", D(370_000)),
            RefLine("toys", "DE", "online", D(18_000), 6_000),
            version=2,
        ),
    ]
    model = MoneyModel(ref)
    expected = {s.id: s.amount for s in model.run(events)}
    assert expected == {
        "y1:p1": D(0),
        "y1:p2": D(0),
        "y1:true-up": D(0),
        "y2:p3": D(0),
        "y2:p4": D(3_700),
        "y2:true-up": D(26_300),
        "y3:p5": D(21_700),
        "y3:p6": D(5_000),
        "y3:true-up": D(13_300),
        "y1:p2:v2": D(700),
        "y2:carry:y1:p2:v2": D(3_000),
        "y3:carry:y1:p2:v2": D(13_000),
    }


def test_without_the_option_the_advance_stays_in_year_one() -> None:
    """The same first two years with the advance not recoupable: year 2 bills its full
    33,000 (p3 28,000, p4 5,000, true-up 0: 33,000 > the 30,000 MG)."""
    books = Books(worked_terms(advance_recoupable_across_term=False))
    books.report(1, [sale("apparel", "DE", "online", 60_000)])
    books.true_up(1)
    books.report(
        3,
        [
            sale("apparel", "DE", "online", 200_000),
            sale("toys", "DE", "online", 60_000, units=20_000),
        ],
    )
    books.report(4, [sale("apparel", "FR", "online", 100_000)])
    books.true_up(2)
    due = books.due()
    assert (due["y2:p3"], due["y2:p4"], due["y2:true-up"]) == (D(28_000), D(5_000), D(0))
    assert advance_carried(books.books, 2, books.terms) == 0


def test_a_year_without_rate_card_bills_exactly_as_before() -> None:
    """No rate card: E is the tiers on the year's net (8% to 500k then 10%), no breakdown."""
    terms = Terms(
        royalty_tiers=[RoyaltyTier(up_to=D(500_000), rate=D("0.08")), RoyaltyTier(rate=D("0.1"))],
        advance=D(20_000),
        minimum_guarantee_per_year=D(60_000),
    )
    book = open_book(1, terms)
    book, charge = book_report(book, 1, BookedPeriod(net_sales=D(600_000), version=1), terms)
    # 500,000 x 8% + 100,000 x 10% = 50,000; less the 20,000 advance = 30,000
    assert (charge.royalty_earned, charge.amount_due, charge.breakdown) == (
        D(50_000),
        D(30_000),
        [],
    )
    assert "breakdown" not in charge.model_dump()
    assert year_owed(book, terms).rows == []


def test_the_signed_terms_spell_out_every_commercial_term_and_hash_stably() -> None:
    terms = worked_terms(sell_off="P90D")
    signed = signed_terms(terms, SCOPE, 3)
    assert signed["minimum_guarantee_by_year"] == ["20000", "30000", "40000"]
    assert signed["advance_recoupable_across_term"] is True
    assert [r["label"] for r in signed["rate_card"]] == [
        "apparel/DE/online",
        "toys/*/*",
        "apparel/DACH/*",
    ]
    assert signed["scope"]["territories"] == ["DE", "AT", "FR"]
    assert (signed["sell_off"], signed["payment_terms"]) == ("P90D", "P30D")
    digest = terms_hash(signed)
    assert len(digest) == 64 and digest == terms_hash(copy.deepcopy(signed))
    changed = signed_terms(worked_terms(sell_off="P90D", advance=D(50_001)), SCOPE, 3)
    assert terms_hash(changed) != digest
