"""KPI status per period, overall status and the early-review rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.deal import Kpi
from domain.deal_state import KpiStatus as S
from domain.kpi import early_review_due, kpi_actual, kpi_status, overall_status, partner_score
from domain.sales_check import SalesCheck

KPI = Kpi(target_per_period=Decimal("50000"), at_risk_below=0.75)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        ("60000", S.ON_TRACK),
        ("50000", S.ON_TRACK),
        ("49999.99", S.AT_RISK),
        ("37500", S.AT_RISK),
        ("37499.99", S.UNDER),
        ("0", S.UNDER),
    ],
)
def test_kpi_status_thresholds(actual: str, expected: S) -> None:
    assert kpi_status(Decimal(actual), KPI) is expected


def test_kpi_actual_picks_metric() -> None:
    check = SalesCheck(net_sales=Decimal("90"), gross_sales=Decimal("100"), units=7)
    assert kpi_actual(check, KPI) == Decimal("90")
    units_kpi = Kpi(metric="units", target_per_period=Decimal("5"))
    assert kpi_actual(check, units_kpi) == Decimal(7)
    gross_kpi = Kpi(metric="gross_sales", target_per_period=Decimal("5"))
    assert kpi_actual(check, gross_kpi) == Decimal("100")


def test_overall_status_worst_wins() -> None:
    assert overall_status([S.ON_TRACK, S.AT_RISK, S.UNDER]) is S.UNDER
    assert overall_status([S.ON_TRACK, S.AT_RISK]) is S.AT_RISK
    assert overall_status([S.ON_TRACK, S.ON_TRACK]) is S.ON_TRACK
    assert overall_status([S.AT_RISK, S.MISSING]) is S.MISSING
    assert overall_status([S.MISSING, S.UNDER]) is S.UNDER
    assert overall_status([S.NOT_STARTED, S.ON_TRACK]) is S.ON_TRACK
    assert overall_status([]) is S.NOT_STARTED


@pytest.mark.parametrize(
    ("history", "due"),
    [
        ([], False),
        ([S.UNDER], False),
        ([S.AT_RISK, S.AT_RISK], True),
        ([S.AT_RISK, S.UNDER], True),
        ([S.UNDER, S.MISSING], True),
        ([S.MISSING, S.MISSING], True),
        ([S.AT_RISK, S.ON_TRACK], False),
        ([S.UNDER, S.UNDER, S.ON_TRACK], False),
        ([S.ON_TRACK, S.AT_RISK, S.UNDER], True),
        ([S.AT_RISK, S.AT_RISK, S.ON_TRACK, S.AT_RISK], False),
        ([S.AT_RISK, S.UNDER, S.NOT_STARTED], True),
        ([S.NOT_STARTED, S.NOT_STARTED], False),
    ],
)
def test_early_review_due(history: list[S], due: bool) -> None:
    assert early_review_due(history) is due


def test_partner_score_blends_evaluation_and_delivery() -> None:
    on, at, under = S.ON_TRACK, S.AT_RISK, S.UNDER
    assert partner_score(4.0, []) == 4.0  # nothing checked yet: the evaluation alone
    assert partner_score(4.0, [S.NOT_STARTED]) == 4.0
    assert partner_score(4.0, [on, on]) == 4.5  # (4 + 5) / 2
    assert partner_score(4.0, [on, under]) == 3.5  # (4 + 3) / 2
    assert partner_score(3.0, [at, under, S.MISSING, on]) == 2.5  # (3 + 2) / 2
    assert partner_score(0.0, [on, at]) == 3.0  # no stored evaluation: delivery alone


def test_a_negative_period_is_simply_under_target() -> None:
    """Returns above the period's sales make net sales negative: below any target."""
    check = SalesCheck(net_sales=Decimal("-1200"), gross_sales=Decimal("300"), units=3)
    actual = kpi_actual(check, KPI)
    assert actual == Decimal("-1200")
    assert kpi_status(actual, KPI) is S.UNDER
    assert kpi_status(Decimal("-0.01"), Kpi(target_per_period=Decimal("0.01"))) is S.UNDER
    assert overall_status([S.ON_TRACK, kpi_status(actual, KPI)]) is S.UNDER
