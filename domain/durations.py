"""ISO-8601 durations with calendar months: P1M after 31 Jan is the last day of February."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, StringConstraints, ValidationInfo

from domain import limits
from domain.bounds import at_edge

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class Duration:
    """A parsed duration: whole calendar months plus an exact time delta."""

    months: int
    delta: timedelta

    def add_to(self, moment: datetime) -> datetime:
        """`moment` plus this duration; months clamp to the end of a shorter month."""
        return add_months(moment, self.months) + self.delta

    def approx(self) -> timedelta:
        """A timedelta for timeouts and SLAs (a month counts as 30 days)."""
        return timedelta(days=30 * self.months) + self.delta


def parse_duration(text: str) -> Duration:
    """Parse `P1M`, `P15D`, `PT2S`, `P1Y2M3DT4H` ...; raise ValueError on anything else."""
    match = _PATTERN.match(text.strip().upper()) if text else None
    if not match:
        raise ValueError(f"not an ISO-8601 duration: {text!r} (examples: P1M, P15D, PT2S)")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    months = int(parts["years"]) * 12 + int(parts["months"])
    try:
        delta = timedelta(
            weeks=parts["weeks"],
            days=parts["days"],
            hours=parts["hours"],
            minutes=parts["minutes"],
            seconds=parts["seconds"],
        )
        duration = Duration(months=months, delta=delta)
        length = duration.approx()
    except OverflowError:
        raise ValueError(f"duration is too long: {text!r} (at most P100Y)") from None
    if length <= timedelta(0):
        raise ValueError(f"duration must be positive: {text!r}")
    return duration


def check_bounds(text: str) -> None:
    """The edge bounds of an input duration: PT1S to P100Y."""
    length = parse_duration(text).approx()
    if length < limits.MIN_DURATION:
        raise ValueError(f"duration must be at least PT1S: {text!r}")
    if length > limits.MAX_DURATION:
        raise ValueError(f"duration is too long: {text!r} (at most P100Y)")


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar-month arithmetic, clamping the day to the target month's length."""
    if months == 0:
        return moment
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _validate(text: str, info: ValidationInfo) -> str:
    if at_edge(info):
        check_bounds(text)
    else:
        parse_duration(text)
    return text.strip().upper()


IsoDuration = Annotated[str, StringConstraints(max_length=64), AfterValidator(_validate)]
"""A string field holding a valid ISO-8601 duration from PT1S to P100Y."""
