"""Codes normalised at the edge: categories and channels lower case, territories ISO 3166-1
alpha-2 upper case with regions expanded; values read back from history stay as recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.bounds import RECORDED
from domain.common import LicensedScope, PartnerScope
from domain.sales import SalesLine
from domain.territories import COUNTRIES, REGIONS, covered, wanted

EU = REGIONS["EU"]


def scope(**fields: Any) -> LicensedScope:
    body = {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"], **fields}
    return LicensedScope.model_validate(body)


def line(**fields: Any) -> SalesLine:
    body = {
        "sku": "MB-TEE-01",
        "category": "apparel",
        "territory": "DE",
        "channel": "online",
        "units": 1,
        "gross_sales": "100",
        **fields,
    }
    return SalesLine.model_validate(body)


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in exc.value.errors()]


def test_the_country_list_and_the_regions() -> None:
    assert len(COUNTRIES) == 249
    assert {"DE", "GB", "GR", "SS", "CW", "SX", "BQ", "XK"} - COUNTRIES == {"XK"}
    assert not {"UK", "EL", "EU"} & COUNTRIES  # reserved, not assigned
    assert len(EU) == len(set(EU)) == 27
    assert {"GR", "HU", "HR"} <= set(EU) and "GB" not in EU
    assert REGIONS["EEA"] == (*EU, "IS", "LI", "NO")
    assert REGIONS["DACH"] == ("DE", "AT", "CH")
    assert REGIONS["BENELUX"] == ("BE", "NL", "LU")
    assert REGIONS["NORDICS"] == ("DK", "FI", "IS", "NO", "SE")
    assert all(set(members) <= COUNTRIES for members in REGIONS.values())
    assert not set(REGIONS) & COUNTRIES


def test_scope_codes_are_normalised_expanded_and_deduplicated_in_order() -> None:
    normalised = scope(
        categories=["Apparel", "apparel", "TOYS"],
        territories=["fr", "dach", "De", "Benelux", "at"],
        channels=["Online", "ONLINE", "retail"],
    )
    assert normalised.categories == ["apparel", "toys"]
    assert normalised.channels == ["online", "retail"]
    assert normalised.territories == ["FR", "DE", "AT", "CH", "BE", "NL", "LU"]


def test_regions_expand_to_their_members() -> None:
    assert scope(territories=["EU"]).territories == list(EU)
    assert scope(territories=["eea"]).territories == [*EU, "IS", "LI", "NO"]
    assert scope(territories=["NORDICS", "EU"]).territories == [
        "DK", "FI", "IS", "NO", "SE", *(c for c in EU if c not in {"DK", "FI", "SE"}),
    ]  # fmt: skip
    partner = PartnerScope(categories=["Toys"], territories=["dach"], channels=["Web"])
    assert (partner.categories, partner.territories, partner.channels) == (
        ["toys"],
        ["DE", "AT", "CH"],
        ["web"],
    )


@pytest.mark.parametrize(("code", "index"), [("XX", 1), ("UK", 1), ("EL", 1), ("D", 1)])
def test_an_unknown_territory_is_refused_naming_the_item(code: str, index: int) -> None:
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2") as exc:
        scope(territories=["DE", code])
    assert error_locs(exc) == [f"territories.{index}"]


def test_look_alike_codes_name_the_iso_code() -> None:
    with pytest.raises(ValidationError, match=r"use GB"):
        scope(territories=["uk"])
    with pytest.raises(ValidationError, match=r"use GR"):
        line(territory="EL")


def test_the_item_bound_holds_as_sent_and_after_expansion() -> None:
    assert len(scope(territories=["EEA"] * 300).territories) == 30
    with pytest.raises(ValidationError, match="at most 300 items"):
        scope(territories=["DE"] * 301)
    every = sorted(COUNTRIES)
    assert scope(territories=[*every, *REGIONS]).territories == every


def test_a_sales_line_names_one_country_in_upper_case() -> None:
    normalised = line(category="Apparel", territory="de", channel="ONLINE")
    assert (normalised.category, normalised.territory, normalised.channel) == (
        "apparel",
        "DE",
        "online",
    )
    for region in ("EU", "dach"):
        with pytest.raises(ValidationError, match="is a region") as exc:
            line(territory=region)
        assert error_locs(exc) == ["territory"]
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2") as exc:
        line(territory="Germany")
    assert error_locs(exc) == ["territory"]


def test_recorded_values_are_neither_normalised_nor_refused() -> None:
    """A scope or line in a deal's history decodes exactly as recorded (replays never
    change); only the comparisons normalise it."""
    body = {"categories": ["Apparel"], "territories": ["de", "EU", "UK"], "channels": ["Web"]}
    recorded = LicensedScope.model_validate(body, context=RECORDED)
    assert (recorded.categories, recorded.territories, recorded.channels) == (
        ["Apparel"],
        ["de", "EU", "UK"],
        ["Web"],
    )
    old_line = SalesLine.model_validate(
        {"sku": "x", "category": "Apparel", "territory": "eu", "channel": "Web", "units": 1,
         "gross_sales": "1"},
        context=RECORDED,
    )  # fmt: skip
    assert (old_line.category, old_line.territory, old_line.channel) == ("Apparel", "eu", "Web")


def test_comparison_helpers_normalise_stored_values() -> None:
    assert wanted(["de", "DACH", " fr "]) == ["DE", "AT", "CH", "FR"]
    assert wanted(["uk"]) == ["UK"]  # unknown stored codes are kept, upper-cased
    assert covered(["eu"]) == frozenset(EU) | {"EU"}
    cover = LicensedScope.model_validate(
        {"categories": ["Apparel"], "territories": ["de", "Benelux"], "channels": ["Web"]},
        context=RECORDED,
    ).cover()
    assert cover.has_category("APPAREL") and cover.has_channel("web")
    assert all(cover.has_territory(t) for t in ("DE", "de", "nl", "LU"))
    assert not cover.has_territory("FR")


def test_returns_make_net_sales_negative_but_deductions_stay_within_gross() -> None:
    assert line(gross_sales="100", deductions="10", returns="300").net_sales == Decimal("-210")
    assert line(gross_sales="0", returns="50").net_sales == Decimal("-50")
    assert line(gross_sales="100").returns == 0
    with pytest.raises(ValidationError, match="deductions cannot exceed gross_sales"):
        line(gross_sales="100", deductions="101")
    with pytest.raises(ValidationError) as exc:
        line(returns="-1")
    assert error_locs(exc) == ["returns"]


def test_zero_returns_are_left_out_of_the_dump() -> None:
    """A report without returns keeps the JSON (and so the report hash) it had before."""
    assert "returns" not in line().model_dump(mode="json")
    assert "returns" not in line(returns="0").model_dump(mode="json")
    assert line(returns="5").model_dump(mode="json")["returns"] == "5"
    assert SalesLine.model_validate(line().model_dump(mode="json")).returns == 0
