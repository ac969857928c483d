"""Review of issue 13: pure rules found wanting. An empty grant window is nothing to hold
(not a right the property lacks); a term past the calendar is a 422, not a crash; property
moments must be UTC moments of the years 1 to 9999; a rate-card row that earlier, equally
specific rows always pre-empt is refused instead of silently never applying."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from factories import licensable_property
from pydantic import ValidationError

from domain import examples
from domain.common import LicensedScope
from domain.deal import DealRequest, Schedule
from domain.rights import (
    Cell,
    GrantRow,
    PropertyRights,
    deal_property_problem,
    first_unavailable,
)

Y2027 = datetime(2027, 1, 1, tzinfo=UTC)
Y2028 = datetime(2028, 1, 1, tzinfo=UTC)


def _prop() -> PropertyRights:
    found = licensable_property()
    return PropertyRights(
        property_id=found.property_id,
        rights=found.rights,
        available_from=found.available_from,
        available_to=found.available_to,
    )


def test_an_empty_window_holds_nothing_instead_of_refusing_the_hold() -> None:
    """Terminated before its scheduled start, a deal's active rows would run from its
    launch to an earlier cut: nothing to hold. The other rows are kept as asked."""
    de = GrantRow(Cell("apparel", "DE", "online"), True, Y2028, Y2027, "active")
    fr = GrantRow(Cell("apparel", "FR", "online"), True, Y2027, Y2028, "active")
    fitted, refused = first_unavailable([de, fr], _prop(), "clip")
    assert refused is None
    assert fitted == [fr]


def test_a_term_ending_past_the_calendar_names_the_field() -> None:
    scope = LicensedScope(categories=["apparel"], territories=["DE"], channels=["online"])
    schedule = Schedule(
        period="P3M", periods_per_year=4, term_periods=8, start="9999-06-01T00:00:00Z"
    )
    problem = deal_property_problem(scope, schedule, None, _prop(), Y2027)
    assert problem is not None and problem[0] == "schedule.term_periods"
    assert "9999" in problem[1]


@pytest.mark.parametrize(
    ("field", "moment"),
    [
        ("available_from", "0001-01-01T00:00:00+01:00"),
        ("available_to", "9999-12-31T23:59:59-01:00"),
    ],
)
def test_property_moments_outside_the_calendar_are_refused(field: str, moment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        licensable_property(**{field: moment})
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)


def _deal(rows: list[dict[str, Any]]) -> dict[str, Any]:
    body = copy.deepcopy(examples.DEAL)
    body["plan"]["scope"] = {
        "categories": ["apparel"],
        "territories": ["DE", "AT", "CH", "FR"],
        "channels": ["online"],
    }
    body["terms"]["rate_card"] = rows
    return body


def _row(territory: str, rate: str) -> dict[str, Any]:
    return {"category": "apparel", "territory": territory, "royalty_tiers": [{"rate": rate}]}


def test_a_country_row_after_a_region_row_holding_it_is_refused() -> None:
    """apparel/DACH 6% then apparel/DE 12%: both name two fields, so DACH (the first) takes
    every DE line and the DE row the licensee signs would never apply."""
    with pytest.raises(ValidationError) as caught:
        DealRequest.model_validate(_deal([_row("DACH", "0.06"), _row("DE", "0.12")]))
    (error,) = caught.value.errors()
    assert error["loc"] == ("terms", "rate_card")
    assert "row 1: never applies" in error["msg"]
    # rows covering it together (DE, AT, CH, then DACH) pre-empt it as well
    with pytest.raises(ValidationError):
        DealRequest.model_validate(
            _deal([_row("DE", "0.1"), _row("AT", "0.1"), _row("CH", "0.1"), _row("DACH", "0.2")])
        )


@pytest.mark.parametrize(
    "rows",
    [
        [_row("DE", "0.12"), _row("DACH", "0.06")],  # the country first: DE 12%, AT and CH 6%
        [_row("DE", "0.12"), _row("EU", "0.06")],  # EU still takes AT and FR
        [_row("DACH", "0.06"), {"category": "apparel", "channel": "online", "per_unit": "1"}],
    ],
)
def test_rows_that_each_take_some_line_are_accepted(rows: list[dict[str, Any]]) -> None:
    DealRequest.model_validate(_deal(rows))
