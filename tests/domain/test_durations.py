"""ISO-8601 durations with calendar months."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.durations import IsoDuration, add_months, check_bounds, parse_duration


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2023, 1, 31), datetime(2023, 2, 28)),
        (datetime(2024, 1, 31), datetime(2024, 2, 29)),
        (datetime(2024, 3, 31), datetime(2024, 4, 30)),
        (datetime(2024, 12, 15), datetime(2025, 1, 15)),
    ],
)
def test_p1m_clamps_to_month_end(start: datetime, expected: datetime) -> None:
    assert parse_duration("P1M").add_to(start) == expected


def test_add_months_across_years_and_backwards() -> None:
    assert add_months(datetime(2024, 1, 31), 25) == datetime(2026, 2, 28)
    assert add_months(datetime(2024, 3, 31), -1) == datetime(2024, 2, 29)
    assert add_months(datetime(2024, 5, 5), 0) == datetime(2024, 5, 5)


def test_pt2s() -> None:
    d = parse_duration("PT2S")
    assert (d.months, d.delta) == (0, timedelta(seconds=2))
    assert d.approx() == timedelta(seconds=2)


def test_compound_duration() -> None:
    d = parse_duration("P1Y2M3DT4H")
    assert d.months == 14
    assert d.delta == timedelta(days=3, hours=4)
    assert d.add_to(datetime(2024, 1, 1)) == datetime(2025, 3, 4, 4)
    assert d.approx() == timedelta(days=30 * 14 + 3, hours=4)


def test_weeks_minutes_fractional_seconds_and_case() -> None:
    assert parse_duration("P2W").delta == timedelta(weeks=2)
    assert parse_duration("PT1M").delta == timedelta(minutes=1)
    assert parse_duration("PT1.5S").delta == timedelta(seconds=1.5)
    assert parse_duration(" p15d ").delta == timedelta(days=15)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "1M", "P1", "PT1D", "P1MT", "monthly", "P-1M", "P0D", "PT0S", "P1.5M"]
)
def test_invalid_strings_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_iso_duration_field_normalises_and_validates() -> None:
    adapter = TypeAdapter(IsoDuration)
    assert adapter.validate_python(" p1m ") == "P1M"
    with pytest.raises(ValidationError):
        adapter.validate_python("P0D")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("PT0.5S", "at least PT1S"),
        ("PT0S", "positive"),
        ("P101Y", "at most P100Y"),
        ("P9000Y", "at most P100Y"),
        ("P1000000000D", "at most P100Y"),
        ("PT99999999999999999999H", "at most P100Y"),
    ],
)
def test_durations_are_bounded(text: str, why: str) -> None:
    """Nothing accepted may push a date past the calendar or overflow a timedelta."""
    with pytest.raises(ValueError, match=why):
        check_bounds(text)
    assert parse_duration("P100Y").approx() == timedelta(days=36_000)


def test_durations_of_earlier_releases_still_parse() -> None:
    """Workflow code parses recorded durations without today's edge bounds."""
    assert parse_duration("PT0.5S").approx() == timedelta(seconds=0.5)
    assert parse_duration("P101Y").months == 1212
    with pytest.raises(ValueError, match="positive"):
        parse_duration("PT0S")
