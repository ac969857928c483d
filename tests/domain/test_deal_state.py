"""DealWorkflowState: the one state object of a deal run, carried whole across runs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from workflow_helpers import opened_history_json

from domain.common import HistoryEntry, LicensedScope
from domain.deal import Kpi, Plan
from domain.deal_messages import TaskDecisionInput, TerminateInput
from domain.deal_state import (
    HISTORY_CARRIED,
    DealRunInput,
    DealWorkflowState,
    PeriodRecord,
    ReportKey,
    Stage,
    Statement,
)
from domain.royalty import open_year
from domain.tasks import Task, TaskKind

HISTORY = "licensing_deal_year3_renewal"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = Plan(
    scope=LicensedScope(categories=["a"], territories=["DE"], channels=["online"]),
    kpis=[Kpi(target_per_period=Decimal(1))],
)


async def recorded_input() -> dict[str, Any]:
    """The input of a continued run, as an earlier release carried it (periods as a list);
    decrypted with the test key ring."""
    first = (await opened_history_json(HISTORY))["events"][0]
    payload = first["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    data: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    return data


async def test_a_carry_recorded_by_an_earlier_release_loads() -> None:
    raw = await recorded_input()
    params = DealRunInput.model_validate(raw)
    carry = params.carry
    assert carry is not None
    assert sorted(carry.periods) == sorted(p["period"] for p in raw["carry"]["periods"])
    assert all(n == record.period for n, record in carry.periods.items())
    assert carry.run == raw["carry"]["run"] > 1
    assert carry.read_model_created, "a continued run never creates the read model again"
    assert (carry.decisions, carry.termination, carry.signature) == ({}, None, None)


async def test_state_round_trips_through_json() -> None:
    params = DealRunInput.model_validate(await recorded_input())
    again = DealRunInput.model_validate_json(params.model_dump_json())
    assert again == params


def period(n: int, year: int, status: str = "checked") -> PeriodRecord:
    start = T0 + timedelta(days=90 * (n - 1))
    return PeriodRecord(
        period=n,
        contract_year=year,
        starts_at=start,
        ends_at=start + timedelta(days=90),
        report_due_at=start + timedelta(days=120),
        status=status,  # type: ignore[arg-type]  # a literal status
    )


def task(local: str, closed: bool) -> Task:
    return Task(
        task_id=f"deal-x:{local}",
        kind=TaskKind.REVIEW_DECISION,
        deal_id="x",
        workflow_id="deal-x",
        title=local,
        assignees=["olivia"],
        opened_at=T0,
        due_at=T0,
        allowed_decisions=["continue"],
        closed_at=T0 if closed else None,
        outcome="continue" if closed else None,
    )


def statement(year: int, key: str) -> Statement:
    return Statement(
        statement_id=f"x:y{year}:{key}", kind="period", contract_year=year, issued_at=T0
    )


def test_next_run_keeps_only_what_it_needs() -> None:
    state = DealWorkflowState(
        stage=Stage.MONITORING,
        plan=PLAN,
        term_periods=12,
        next_period=9,
        ledger=open_year(3, _terms()),
        periods={n: period(n, (n - 1) // 4 + 1) for n in range(1, 9)},
        statements=[statement(1, "p1"), statement(2, "p5"), statement(3, "p9")],
        kpi_history=[],
        reports=[
            ReportKey(period=2, version=1),
            ReportKey(period=6, version=1),
            ReportKey(period=6, version=3),
            ReportKey(period=6, version=2),
            ReportKey(period=9, version=1),
        ],
        tasks=[task("review-4", closed=True), task("review-8", closed=False)],
        history=[HistoryEntry(at=T0, event=f"e{i}") for i in range(100)],
        run=2,
        decisions={
            "deal-x:review-8": TaskDecisionInput(
                task_id="review-8", decided_by="o", decision="continue"
            )
        },
        termination=TerminateInput(requested_by="o", reason="r"),
        reason="r",
    )
    next_run = state.for_next_run(periods_per_year=4)

    assert sorted(next_run.periods) == [5, 6, 7, 8], "contract years 2 and 3 only"
    assert [s.statement_id for s in next_run.statements] == ["x:y2:p5", "x:y3:p9"]
    # reports of closed years (periods 2 and 6) are dropped; a period not yet run is kept
    assert next_run.reports == [ReportKey(period=9, version=1)]
    assert [t.task_id for t in next_run.tasks] == ["deal-x:review-8"]
    assert len(next_run.history) == HISTORY_CARRIED
    assert next_run.history[-1].event == "e99"
    assert next_run.run == 3
    assert (next_run.decisions, next_run.termination, next_run.reason) == ({}, None, None)
    assert state.run == 2, "the current run's state is left as it is"


def test_reports_of_the_current_year_carry_their_latest_version() -> None:
    state = DealWorkflowState(
        stage=Stage.MONITORING,
        plan=PLAN,
        term_periods=8,
        next_period=5,
        ledger=open_year(2, _terms()),
        periods={n: period(n, 1 if n <= 4 else 2) for n in range(1, 6)},
        reports=[
            ReportKey(period=5, version=1),
            ReportKey(period=5, version=2),
            ReportKey(period=7, version=1),
        ],
    )
    assert (state.latest_report(5), state.latest_report(6)) == (2, 0)
    assert state.has_report(7) and not state.has_report(6)
    assert state.for_next_run(periods_per_year=4).reports == [
        ReportKey(period=5, version=2),
        ReportKey(period=7, version=1),
    ]


def _terms() -> Any:
    from domain.deal import RoyaltyTier, Terms

    return Terms(
        royalty_tiers=[RoyaltyTier(up_to=None, rate=Decimal("0.08"))],
        advance=Decimal(0),
        minimum_guarantee_per_year=Decimal(0),
    )


def test_a_version_zero_report_is_not_a_report() -> None:
    state = DealWorkflowState(
        stage=Stage.MONITORING,
        plan=PLAN,
        term_periods=4,
        ledger=open_year(1, _terms()),
        reports=[ReportKey(period=1, version=0)],
    )
    assert not state.has_report(1)
    assert state.for_next_run(periods_per_year=4).reports == []
