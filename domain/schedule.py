"""Period windows and cadences, computed from the launch moment (never by iteration)."""

from __future__ import annotations

from datetime import datetime

from domain.durations import add_months, parse_duration


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def period_start(launch: datetime, period: str, n: int) -> datetime:
    """Start of period `n` (1-based): launch + (n-1) * period, months clamped from launch."""
    _check_positive("period number", n)
    duration = parse_duration(period)
    steps = n - 1
    return add_months(launch, duration.months * steps) + duration.delta * steps


def period_end(launch: datetime, period: str, n: int) -> datetime:
    """End of period `n` (exclusive), which is the start of period `n + 1`."""
    return period_start(launch, period, n + 1)


def report_due(period_end: datetime, grace: str) -> datetime:
    """When the sales report of a period ending at `period_end` is due."""
    return parse_duration(grace).add_to(period_end)


def contract_year_of(period: int, periods_per_year: int) -> int:
    """1-based contract year that period `period` belongs to."""
    _check_positive("period number", period)
    _check_positive("periods_per_year", periods_per_year)
    return (period - 1) // periods_per_year + 1


def is_review_period(period: int, periods_per_review: int) -> bool:
    """True for the last period of each review cycle."""
    _check_positive("period number", period)
    _check_positive("periods_per_review", periods_per_review)
    return period % periods_per_review == 0


def is_year_end(period: int, periods_per_year: int) -> bool:
    """True for the last period of a contract year."""
    _check_positive("period number", period)
    _check_positive("periods_per_year", periods_per_year)
    return period % periods_per_year == 0
