"""Year books (domain/royalty.py): conversion from the running ledger, minor units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.deal import RoyaltyTier, Terms
from domain.royalty import BookedPeriod, book_from_legacy, book_report, open_book, settle_year


def terms(**overrides: Any) -> Terms:
    data: dict[str, Any] = {
        "royalty_tiers": [
            RoyaltyTier(up_to=Decimal("500000"), rate=Decimal("0.08")),
            RoyaltyTier(up_to=None, rate=Decimal("0.10")),
        ],
        "advance": Decimal("20000"),
        "minimum_guarantee_per_year": Decimal("60000"),
    }
    data.update(overrides)
    return Terms(**data)


def test_a_converted_year_keeps_its_uncharged_unlicensed_sales_uncharged() -> None:
    """The running ledger never charged unlicensed sales: converting counts them as billed,
    so a correction that keeps the figures bills nothing and one that changes them bills only
    the change (50,000 more unlicensed at the highest rate, 10%)."""
    t = terms()
    periods = {n: BookedPeriod(net_sales=Decimal("200000"), version=1) for n in (1, 3, 4)}
    periods[2] = BookedPeriod(
        net_sales=Decimal("200000"), unlicensed_net_sales=Decimal("100000"), version=1
    )
    book = book_from_legacy(1, t, periods, Decimal("70000"), settled=True)

    same = BookedPeriod(
        net_sales=Decimal("200000"), unlicensed_net_sales=Decimal("100000"), version=2
    )
    _, unchanged = book_report(book, 2, same, t)
    more = same.model_copy(update={"unlicensed_net_sales": Decimal("150000"), "version": 3})
    _, changed = book_report(book, 2, more, t)

    assert unchanged.amount_due == 0
    assert (changed.unlicensed_royalty, changed.amount_due) == (Decimal("5000"), Decimal("5000"))


def test_a_yen_book_bills_whole_yen_and_a_converted_cent_balance_is_rounded() -> None:
    yen = terms(
        currency="JPY",
        royalty_tiers=[RoyaltyTier(rate=Decimal("0.07"))],
        advance=Decimal(0),
        minimum_guarantee_per_year=Decimal(0),
    )
    book = open_book(1, yen)
    book, first = book_report(book, 1, BookedPeriod(net_sales=Decimal("12345"), version=1), yen, 0)
    book, again = book_report(book, 1, BookedPeriod(net_sales=Decimal("12346"), version=2), yen, 0)
    _, settled = settle_year(book, Decimal(0), yen, 0)
    assert (first.amount_due, again.amount_due, settled.amount_due) == (Decimal(864), 0, 0)

    # a run before currency-minor-units billed 864.15 yen: converted, it counts as 864
    legacy = book_from_legacy(
        1,
        yen,
        {1: BookedPeriod(net_sales=Decimal("12345"), version=1)},
        Decimal("864.15"),
        settled=False,
        decimals=0,
    )
    _, same = book_report(legacy, 1, BookedPeriod(net_sales=Decimal("12345"), version=2), yen, 0)
    assert same.amount_due == 0 and not same.amount_due.is_signed()
