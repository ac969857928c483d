"""Which plan changes need the licensee's signature (`domain.amendments`)."""

from __future__ import annotations

from decimal import Decimal

from domain.amendments import needs_signature, plan_changes
from domain.common import LicensedScope
from domain.deal import Kpi, Plan, Promotion

SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])
KPI = Kpi(target_per_period=Decimal("50000"))


def test_spelling_and_order_are_no_change() -> None:
    current = Plan(scope=SCOPE, kpis=[KPI, Kpi(metric="units", target_per_period=Decimal(10))])
    same = Plan(
        scope=LicensedScope(categories=["Apparel"], territories=["fr", "de"], channels=["ONLINE"]),
        kpis=[Kpi(metric="units", target_per_period=Decimal("10.00")), KPI],
    )
    assert plan_changes(current, same) == []
    assert not needs_signature([])


def test_scope_and_kpis_need_a_signature_promotion_does_not() -> None:
    current = Plan(scope=SCOPE, kpis=[KPI])
    exclusive = Plan(scope=SCOPE.model_copy(update={"exclusive": True}), kpis=[KPI])
    narrower = Plan(
        scope=LicensedScope(categories=["apparel"], territories=["DE"], channels=["online"]),
        kpis=[KPI],
    )
    target = Plan(scope=SCOPE, kpis=[Kpi(target_per_period=Decimal("40000"))])
    promoted = Plan(scope=SCOPE, kpis=[KPI], promotion=[Promotion(channel="tv", budget=1)])
    assert plan_changes(current, exclusive) == ["scope"]
    assert plan_changes(current, narrower) == ["scope"]
    assert plan_changes(current, target) == ["kpis"]
    assert plan_changes(current, promoted) == ["promotion"]
    assert needs_signature(["scope"]) and needs_signature(["kpis", "promotion"])
    assert not needs_signature(["promotion"])
