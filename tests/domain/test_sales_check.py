"""Licensed vs unlicensed sales lines: codes compared normalised, net of returns."""

from __future__ import annotations

from decimal import Decimal

from domain.bounds import RECORDED
from domain.common import LicensedScope
from domain.sales import SalesLine
from domain.sales_check import check_sales

SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])


def line(
    sku: str, gross: str, deductions: str = "0", units: int = 1, returns: str = "0", **dims: str
) -> SalesLine:
    values = {"category": "apparel", "territory": "DE", "channel": "online", **dims}
    return SalesLine(
        sku=sku,
        units=units,
        gross_sales=Decimal(gross),
        deductions=Decimal(deductions),
        returns=Decimal(returns),
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


def recorded_line(**dims: str) -> SalesLine:
    """A line as stored before codes were normalised (decoded without edge checks)."""
    values = {"sku": "old", "category": "apparel", "territory": "DE", "channel": "online", **dims}
    return SalesLine.model_validate({**values, "units": 1, "gross_sales": "100"}, context=RECORDED)


def test_codes_match_whatever_their_case() -> None:
    mixed = LicensedScope.model_validate(
        {"categories": ["APPAREL"], "territories": ["de", "Fr"], "channels": ["Online"]}
    )
    check = check_sales(
        [line("a", "100", category="Apparel", territory="fr", channel="ONLINE")], mixed
    )
    assert (check.net_sales, check.unlicensed_lines) == (Decimal("100"), [])


def test_legacy_stored_codes_match_the_normalised_scope() -> None:
    """A report stored with "de" / "Apparel" and a scope stored with "fr" or a region (both
    before the edge normalised them) compare normalised on both sides."""
    legacy_scope = LicensedScope.model_validate(
        {"categories": ["Apparel"], "territories": ["fr", "dach"], "channels": ["ONLINE"]},
        context=RECORDED,
    )
    lines = [
        recorded_line(territory="de", category="APPAREL", channel="online"),
        recorded_line(territory="Fr"),
        recorded_line(territory="ch"),
        recorded_line(territory="it"),
    ]
    check = check_sales(lines, legacy_scope)
    assert check.net_sales == Decimal("300")
    assert [(u.territory, u.why) for u in check.unlicensed_lines] == [
        ("it", "territory it not licensed")
    ]
    assert check_sales(lines[:1], SCOPE).unlicensed_lines == []


def test_a_region_in_the_scope_covers_its_members() -> None:
    eu = LicensedScope(categories=["apparel"], territories=["EU"], channels=["online"])
    lines = [line(sku, "100", territory=t) for sku, t in (("a", "GR"), ("b", "HU"), ("c", "CH"))]
    check = check_sales(lines, eu)
    assert check.net_sales == Decimal("200")
    assert [u.sku for u in check.unlicensed_lines] == ["c"]


def test_a_line_may_be_net_negative() -> None:
    check = check_sales([line("a", "100", "10", returns="300")], SCOPE)
    assert check.net_sales == Decimal("-210")
    assert check.gross_sales == Decimal("100")


def test_a_period_may_be_net_negative_licensed_and_unlicensed() -> None:
    check = check_sales(
        [
            line("a", "1000", "100", units=10),
            line("b", "0", units=0, returns="1500"),
            line("c", "200", units=2, territory="US", returns="250"),
            line("d", "0", units=0, territory="US", returns="100"),
        ],
        SCOPE,
    )
    assert check.net_sales == Decimal("-600")  # 900 - 1500
    assert check.gross_sales == Decimal("1000")
    assert check.units == 10
    assert check.unlicensed_net_sales == Decimal("-150")  # (200 - 250) + (0 - 100)
    assert [(u.sku, u.net_sales) for u in check.unlicensed_lines] == [
        ("c", Decimal("-50")),
        ("d", Decimal("-100")),
    ]
