"""What a sales report's answer promises (api/routes/sales.py): never `adjustment` for a
report the deal would not bill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.problems import ProblemError
from api.routes.sales import _check_year_adjustable, _last_reportable, _what_happens
from domain.deal import DealRequest
from domain.deal_state import DealState, PeriodRecord, Stage
from domain.examples import DEAL

START = datetime(2027, 1, 1, tzinfo=UTC)


def record(n: int, year: int, status: str) -> PeriodRecord:
    return PeriodRecord(
        period=n,
        contract_year=year,
        starts_at=START + timedelta(days=90 * (n - 1)),
        ends_at=START + timedelta(days=90 * n),
        report_due_at=START + timedelta(days=90 * n + 15),
        status=status,  # type: ignore[arg-type]
    )


def state(periods: list[PeriodRecord], **overrides: Any) -> DealState:
    request = DealRequest.model_validate(
        {**DEAL, "schedule": {"period": "P3M", "periods_per_year": 4, "term_periods": 8}}
    )
    data: dict[str, Any] = {
        "deal_id": request.deal_id,
        "title": request.title,
        "owner": "olivia",
        "stage": Stage.MONITORING,
        "plan": request.plan,
        "term_periods": 8,
        "periods": periods,
        "request": request,
        "next_period": max((p.period for p in periods), default=0) + 1,
        "year_books": True,
        "first_booked_year": 1,
    }
    data.update(overrides)
    return DealState(**data)


def refused(view: DealState, period: int) -> int | None:
    try:
        _check_year_adjustable(view, period)
    except ProblemError as exc:
        return exc.status
    return None


def test_answers_follow_the_period_and_its_year() -> None:
    # year 2 run: year-1 periods no longer listed, p5 checked, p6 missing, p7 running
    view = state([record(5, 2, "checked"), record(6, 2, "missing"), record(7, 2, "open")])
    assert [_what_happens(view, n) for n in (2, 5, 6, 7, 8)] == [
        "adjustment",
        "adjustment",
        "late",
        "accepted",
        "accepted",
    ]
    assert refused(view, 2) is None


def test_a_deal_before_year_books_refuses_a_closed_year_even_while_listed() -> None:
    listed = [record(n, 1, "checked") for n in (1, 2, 3, 4)] + [record(5, 2, "open")]
    view = state(listed, year_books=False, first_booked_year=None, contract_year=2)
    assert refused(view, 2) == 409  # the running ledger would only note it
    assert refused(view, 5) is None
    pruned = state([record(5, 2, "open")], year_books=False, first_booked_year=None)
    assert refused(pruned, 2) == 409


def test_a_year_closed_before_year_books_is_refused_after_conversion() -> None:
    view = state([record(9, 3, "open")], term_periods=12, first_booked_year=2, contract_year=3)
    assert refused(view, 3) == 409  # year 1: no book
    assert refused(view, 6) is None  # year 2: booked


def test_the_sell_off_period_is_reportable_before_winding_down() -> None:
    request = DealRequest.model_validate(
        {
            **DEAL,
            "terms": {**DEAL["terms"], "sell_off": "P90D"},
            "schedule": {"period": "P3M", "periods_per_year": 4, "term_periods": 8},
        }
    )
    assert _last_reportable(state([], request=request)) == 9
    assert _last_reportable(state([], request=request, year_books=False)) == 8


@pytest.mark.parametrize("status", ["checked", "missing"])
def test_a_billed_or_missing_period_is_never_answered_accepted(status: str) -> None:
    view = state([record(1, 1, status)])
    assert _what_happens(view, 1) in ("adjustment", "late")
