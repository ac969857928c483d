"""Licensed vs unlicensed sales lines."""

from __future__ import annotations

from decimal import Decimal

from domain.common import LicensedScope
from domain.sales import SalesLine
from domain.sales_check import check_sales

SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])


def line(sku: str, gross: str, deductions: str = "0", units: int = 1, **dims: str) -> SalesLine:
    values = {"category": "apparel", "territory": "DE", "channel": "online", **dims}
    return SalesLine(
        sku=sku,
        units=units,
        gross_sales=Decimal(gross),
        deductions=Decimal(deductions),
        **values,
    )


def test_all_licensed() -> None:
    check = check_sales(
        [line("a", "1000", "100", units=10), line("b", "500", territory="FR", units=5)], SCOPE
    )
    assert check.net_sales == Decimal("1400")
    assert check.gross_sales == Decimal("1500")
    assert check.units == 15
    assert check.unlicensed_net_sales == 0
    assert check.unlicensed_lines == []


def test_unlicensed_lines_are_separated_with_reasons() -> None:
    check = check_sales(
        [
            line("a", "1000", "100", units=10),
            line("b", "300", "50", units=3, territory="US"),
            line("c", "200", units=2, category="toys", channel="retail"),
        ],
        SCOPE,
    )
    assert check.net_sales == Decimal("900")
    assert check.gross_sales == Decimal("1000")
    assert check.units == 10
    assert check.unlicensed_net_sales == Decimal("450")
    assert [(u.sku, u.why) for u in check.unlicensed_lines] == [
        ("b", "territory US not licensed"),
        ("c", "category toys not licensed; channel retail not licensed"),
    ]
    assert check.unlicensed_lines[0].net_sales == Decimal("250")


def test_empty_report() -> None:
    check = check_sales([], SCOPE)
    assert (check.net_sales, check.units, check.unlicensed_lines) == (0, 0, [])
