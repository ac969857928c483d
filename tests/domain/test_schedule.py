"""Period windows for calendar months and second-long demo periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.schedule import (
    contract_year_of,
    is_review_period,
    is_year_end,
    period_end,
    period_start,
    report_due,
)

JAN31 = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)


def test_period_one_starts_at_launch() -> None:
    assert period_start(JAN31, "P1M", 1) == JAN31
    assert period_start(JAN31, "PT2S", 1) == JAN31


def test_monthly_periods_clamp_from_launch_not_by_iteration() -> None:
    starts = [period_start(JAN31, "P1M", n) for n in range(1, 6)]
    assert [s.date().isoformat() for s in starts] == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
        "2024-05-31",
    ]
    assert all(s.time() == JAN31.time() and s.tzinfo is UTC for s in starts)
    assert period_start(JAN31, "P1M", 14).date().isoformat() == "2025-02-28"


def test_period_end_is_next_start() -> None:
    for n in range(1, 30):
        assert period_end(JAN31, "P1M", n) == period_start(JAN31, "P1M", n + 1)
    assert period_end(JAN31, "P1M", 1).date().isoformat() == "2024-02-29"


def test_two_second_periods() -> None:
    assert period_start(JAN31, "PT2S", 4) == JAN31 + timedelta(seconds=6)
    assert period_end(JAN31, "PT2S", 4) == JAN31 + timedelta(seconds=8)


def test_mixed_duration() -> None:
    assert period_start(JAN31, "P1M1D", 3) == datetime(2024, 3, 31, 9, 30, tzinfo=UTC) + timedelta(
        days=2
    )


def test_invalid_period_number_or_duration() -> None:
    with pytest.raises(ValueError):
        period_start(JAN31, "P1M", 0)
    with pytest.raises(ValueError):
        period_start(JAN31, "monthly", 1)


def test_report_due() -> None:
    end = period_end(JAN31, "P1M", 1)
    assert report_due(end, "P15D") == datetime(2024, 3, 15, 9, 30, tzinfo=UTC)
    assert report_due(JAN31, "PT1S") == JAN31 + timedelta(seconds=1)


def test_contract_years_reviews_and_year_ends() -> None:
    assert [contract_year_of(p, 12) for p in (1, 12, 13, 24, 25, 36)] == [1, 1, 2, 2, 3, 3]
    assert [p for p in range(1, 13) if is_review_period(p, 3)] == [3, 6, 9, 12]
    assert [p for p in range(1, 37) if is_year_end(p, 12)] == [12, 24, 36]
    assert [p for p in range(1, 13) if contract_year_of(p, 4) == 2] == [5, 6, 7, 8]


def test_cadence_arguments_validated() -> None:
    with pytest.raises(ValueError):
        contract_year_of(0, 12)
    with pytest.raises(ValueError):
        is_review_period(3, 0)
