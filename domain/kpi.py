"""KPI checks per period, the overall status and when an early review is due."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from domain.deal import Kpi
from domain.deal_state import KpiStatus
from domain.sales_check import SalesCheck

_SEVERITY = {
    KpiStatus.NOT_STARTED: 0,
    KpiStatus.ON_TRACK: 1,
    KpiStatus.AT_RISK: 2,
    KpiStatus.MISSING: 3,
    KpiStatus.UNDER: 4,
}
_AT_RISK_OR_WORSE = frozenset({KpiStatus.AT_RISK, KpiStatus.MISSING, KpiStatus.UNDER})


def kpi_actual(check: SalesCheck, kpi: Kpi) -> Decimal:
    """The KPI's metric measured on the licensed lines of a checked report (net sales are
    after returns and may be negative)."""
    if kpi.metric == "units":
        return Decimal(check.units)
    if kpi.metric == "gross_sales":
        return check.gross_sales
    return check.net_sales


def kpi_status(actual: Decimal, kpi: Kpi) -> KpiStatus:
    """on_track at/above target, at_risk at/above `at_risk_below` * target, else under.

    Targets are positive, so a negative actual (returns above the period's sales) is
    simply under."""
    target = kpi.target_per_period
    if actual >= target:
        return KpiStatus.ON_TRACK
    if actual >= Decimal(str(kpi.at_risk_below)) * target:
        return KpiStatus.AT_RISK
    return KpiStatus.UNDER


def overall_status(statuses: Iterable[KpiStatus]) -> KpiStatus:
    """Worst status wins: under > missing > at_risk > on_track > not_started (empty)."""
    return max(statuses, key=_SEVERITY.__getitem__, default=KpiStatus.NOT_STARTED)


def early_review_due(history: list[KpiStatus]) -> bool:
    """True when the last two checked periods are both at_risk or worse (missing included).

    `not_started` entries are periods not checked yet and are skipped.
    """
    checked = [s for s in history if s is not KpiStatus.NOT_STARTED]
    return len(checked) >= 2 and all(s in _AT_RISK_OR_WORSE for s in checked[-2:])


def partner_score(evaluation: float, trend: list[KpiStatus]) -> float:
    """Mean of the licensor's evaluation and KPI delivery (1 + 4 x share of on-track periods)."""
    checked = [s for s in trend if s is not KpiStatus.NOT_STARTED]
    if not checked:
        return round(evaluation, 2)
    delivery = 1 + 4 * checked.count(KpiStatus.ON_TRACK) / len(checked)
    if evaluation <= 0:
        return round(delivery, 2)
    return round((evaluation + delivery) / 2, 2)
