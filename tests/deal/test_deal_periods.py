"""Monitoring and maintenance under time skipping: missing reports, reviews, amendments,
corrections, termination, renewal and expiry (signals only: the test server lacks Updates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    PARTNER_CONTACT,
    PLAN_APPROVERS,
    deal_request,
    decide_signal,
    decide_then_new_run,
    latest,
    launch,
    line,
    open_task,
    outcome_of,
    plan,
    report_after_period_end,
    schedule,
    sign,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from temporalio.testing import WorkflowEnvironment

from domain.deal import RoyaltyTier, Terms
from domain.deal_messages import SalesReportReceived, SignatureEvent, TerminateInput
from domain.deal_state import DealState, KpiStatus, Stage
from licenseflow.converter import data_converter
from store import notifications, sales, statements
from workers.reconcile import ReportReconciler
from workflows.licensing_deal import LicensingDealWorkflow


async def launched_deal(
    env: WorkflowEnvironment, task_queue: str, **schedule_overrides: Any
) -> tuple[str, DealState]:
    """Start a one-year deal (four quarters; schedule overridable), take it to monitoring;
    its id and that state."""
    request = deal_request(schedule=schedule(**{"term_periods": 4, **schedule_overrides}))
    await start_deal(env.client, request, task_queue)
    return request.deal_id, await launch(env.client, request.deal_id)


async def amounts(pool: asyncpg.Pool, deal_id: str) -> dict[str, Decimal]:
    return {r["statement_id"]: r["amount_due"] for r in await statements.for_deal(pool, deal_id)}


async def terminate(env: WorkflowEnvironment, deal_id: str, reason: str = "test over") -> None:
    await latest(env.client, deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason=reason),
    )
    outcome = await outcome_of(env, deal_id)
    assert outcome.stage is Stage.TERMINATED


async def test_missing_report_reminds_partner_marks_missing_and_late_report_is_invoiced(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)

    state = await report_after_period_end(env, pool, deal_id, 1, None)

    assert state.periods[0].status == "missing"
    assert state.kpi_status is KpiStatus.MISSING
    reminders = [
        n for n in await notifications.for_deal(pool, deal_id) if n["kind"] == "report_reminder"
    ]
    assert [n["recipient"] for n in reminders] == [PARTNER_CONTACT]
    assert f"{deal_id}:y1:p1" not in await amounts(pool, deal_id)

    await submit_report(pool, env.client, deal_id, 1, [line("300000")])
    state = await wait_state(
        env.client, deal_id, lambda s: s.periods[0].status == "checked", what="late p1"
    )
    assert state.periods[0].net_sales == Decimal("300000")
    assert (await amounts(pool, deal_id))[f"{deal_id}:y1:p1"] == Decimal("4000")
    await terminate(env, deal_id)


async def test_report_stored_without_a_signal_is_found_at_the_due_date(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)
    state = await wait_state(env.client, deal_id, lambda s: bool(s.periods), what="p1")
    record = state.periods[0]
    await skip_to(env, record.ends_at + timedelta(seconds=1))

    await submit_report(pool, env.client, deal_id, 1, [line("300000")], signal=False)
    await skip_to(env, record.report_due_at + timedelta(seconds=1))
    state = await wait_state(
        env.client, deal_id, lambda s: s.periods[0].status != "open", what="p1 settled"
    )

    assert (state.periods[0].status, state.periods[0].net_sales) == ("checked", Decimal("300000"))
    assert state.periods[0].report_version == 1
    assert any(h.event == "report_found_unsignalled" for h in state.history)
    assert (await amounts(pool, deal_id))[f"{deal_id}:y1:p1"] == Decimal("4000")
    await terminate(env, deal_id)


async def test_worker_reconciler_signals_a_report_whose_signal_was_lost(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """The API stored a report and died before signalling: the worker's reconciler signals
    it (ids and totals only, no lines in the history) and marks the row."""
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)
    await wait_state(env.client, deal_id, lambda s: bool(s.periods), what="p1")
    await submit_report(pool, env.client, deal_id, 1, [line("300000")] * 3, signal=False)
    reconciler = ReportReconciler(env.client, pool, grace=timedelta(0))

    assert await reconciler.run_once() == 1
    state = await wait_state(
        env.client, deal_id, lambda s: any(h.event == "report_received" for h in s.history)
    )
    assert [r["signalled_at"] is not None for r in await sales.for_deal(pool, deal_id)] == [True]
    assert await reconciler.run_once() == 0, "a signalled row is not sent again"

    history = await latest(env.client, deal_id).fetch_history()
    signalled = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.workflow_execution_signaled_event_attributes.signal_name == "sales_report_received"
    ]
    [payload] = [p for attrs in signalled for p in attrs.input.payloads]
    assert payload.metadata["encoding"] == b"binary/encrypted"
    assert data_converter.payload_codec is not None
    [plain] = await data_converter.payload_codec.decode([payload])
    [received] = data_converter.payload_converter.from_payloads([plain], [SalesReportReceived])
    assert received.report is None and (received.period, received.lines) == (1, 3)
    assert received.net_sales == Decimal("900000")
    assert len(plain.data) < 300, "the signal carries ids and totals, not lines"
    assert state.stage is Stage.MONITORING
    await terminate(env, deal_id)


async def test_two_at_risk_periods_open_an_early_review(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue, term_periods=8)

    state = await report_after_period_end(env, pool, deal_id, 1, "80000")
    assert state.kpi_status is KpiStatus.AT_RISK
    assert not any(t.kind == "review_decision" for t in state.open_tasks)
    await report_after_period_end(env, pool, deal_id, 2, "80000")

    state = await wait_state(
        env.client, deal_id, lambda s: open_task(s, "review-2"), what="early review"
    )
    assert state.stage is Stage.MAINTENANCE
    review = next(t for t in state.open_tasks if t.task_id.endswith(":review-2"))
    assert review.assignees == [OWNER]
    assert review.title.startswith("Early review after period 2")

    await decide_signal(env.client, deal_id, "review-2", OWNER, "continue")
    state = await wait_state(
        env.client, deal_id, lambda s: s.stage is Stage.MONITORING, what="monitoring"
    )
    assert state.plan_version == 1
    await terminate(env, deal_id)


async def test_amendment_at_review_applies_new_kpis_from_the_next_period(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue, periods_per_review=2)
    await report_after_period_end(env, pool, deal_id, 1, "100000")
    await report_after_period_end(env, pool, deal_id, 2, "100000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "review-2"))

    amended = plan(target="50000")
    await decide_signal(env.client, deal_id, "review-2", OWNER, "amend", plan=amended)
    # an amendment takes effect once approved and signed (tests/deal/test_deal_amendments.py)
    await wait_state(env.client, deal_id, lambda s: open_task(s, "amendment-1"))
    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    await sign(env.client, deal_id, local_id="amendment-1-signature")
    state = await wait_state(env.client, deal_id, lambda s: s.plan_version == 2, what="plan v2")
    assert state.plan == amended
    state = await report_after_period_end(env, pool, deal_id, 3, "60000")

    assert [p.kpi_status for p in state.periods[:3]] == [
        KpiStatus.ON_TRACK,
        KpiStatus.ON_TRACK,
        KpiStatus.ON_TRACK,
    ]
    assert state.kpis[0].target_per_period == Decimal("50000")
    await terminate(env, deal_id)


async def test_correction_with_higher_version_issues_an_adjustment_statement(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)
    await report_after_period_end(env, pool, deal_id, 1, "300000")

    await submit_report(pool, env.client, deal_id, 1, [line("350000")], version=2)
    state = await wait_state(
        env.client, deal_id, lambda s: s.periods[0].report_version == 2, what="correction"
    )

    assert state.periods[0].net_sales == Decimal("350000")
    issued = await amounts(pool, deal_id)
    assert issued[f"{deal_id}:y1:p1"] == Decimal("4000")  # 24,000 earned - 20,000 advance
    assert issued[f"{deal_id}:y1:p1:v2"] == Decimal("4000")  # 28,000 earned now
    await terminate(env, deal_id)


async def test_duplicate_and_stray_signals_are_ignored(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, launched = await launched_deal(env, task_queue)
    handle = latest(env.client, deal_id)
    for envelope in (launched.envelope_id or "", "env-somebody-else"):
        await handle.signal(
            LicensingDealWorkflow.signature_declined,
            SignatureEvent(envelope_id=envelope, event="declined", at=datetime.now(UTC)),
        )
    await handle.signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=PARTNER_CONTACT, reason="not my deal"),
    )
    await report_after_period_end(env, pool, deal_id, 1, "300000")
    await submit_report(pool, env.client, deal_id, 1, [line("300000")])  # same version again

    state = await wait_state(
        env.client,
        deal_id,
        lambda s: any(h.event == "report_duplicate_ignored" for h in s.history),
        what="duplicate noted",
    )
    events = [h.event for h in state.history]
    assert events.count("signature_event_ignored") == 2
    assert events.count("signal_rejected") == 1
    assert state.stage is Stage.MONITORING
    assert [p.status for p in state.periods] == ["checked", "open"]
    assert list(await amounts(pool, deal_id)) == [f"{deal_id}:y1:p1"]
    await terminate(env, deal_id)


async def test_terminate_issues_final_statement_and_notifies_partner(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)
    await report_after_period_end(env, pool, deal_id, 1, "100000")
    await report_after_period_end(env, pool, deal_id, 2, "150000")

    await terminate(env, deal_id, reason="brand withdrawn")

    state = await latest(env.client, deal_id).query(LicensingDealWorkflow.state)
    assert state.stage is Stage.TERMINATED and state.open_tasks == []
    # MG 60,000 pro rata 2 of 4 periods = 30,000; covered max(earned 20,000, advance 20,000)
    assert (await amounts(pool, deal_id))[f"{deal_id}:final"] == Decimal("10000")
    sent = {(n["recipient"], n["kind"]) for n in await notifications.for_deal(pool, deal_id)}
    assert (PARTNER_CONTACT, "deal_terminated") in sent


async def test_terminating_during_the_renewal_decision_bills_the_guarantee_once(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """A year closed by its true-up is settled: terminating afterwards bills nothing more
    for it (the final statement billed the 28,000 shortfall a second time)."""
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue, periods_per_review=8)
    for period in range(1, 5):
        await report_after_period_end(env, pool, deal_id, period, "100000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "renewal-1"))

    await terminate(env, deal_id, reason="licensee exits")

    billed = await amounts(pool, deal_id)
    # 4 x 100,000 at 8% = 32,000 earned; 20,000 advance paid at signing covers periods
    # 1-2, periods 3-4 bill 4,000 and 8,000; the true-up brings the year to the 60,000 MG
    assert billed == {
        f"{deal_id}:y1:p1": Decimal("0.00"),
        f"{deal_id}:y1:p2": Decimal("0.00"),
        f"{deal_id}:y1:p3": Decimal("4000.00"),
        f"{deal_id}:y1:p4": Decimal("8000.00"),
        f"{deal_id}:y1:true-up": Decimal("28000.00"),
        f"{deal_id}:final": Decimal("0.00"),
    }
    assert Decimal("20000") + sum(billed.values()) == Decimal("60000")


async def test_a_yen_deal_invoices_whole_yen(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Statements are rounded to the currency's minor unit: 12,345 JPY at 7% is 864.15 JPY,
    invoiced as 864 yen."""
    env = time_worker
    yen = Terms(
        currency="JPY",
        royalty_tiers=[RoyaltyTier(rate=Decimal("0.07"))],
        advance=Decimal(0),
        minimum_guarantee_per_year=Decimal(0),
    )
    request = deal_request(terms=yen, schedule=schedule(term_periods=4))
    await start_deal(env.client, request, task_queue)
    await launch(env.client, request.deal_id)
    await report_after_period_end(env, pool, request.deal_id, 1, "12345")
    rows = await statements.for_deal(pool, request.deal_id)
    [first] = [r for r in rows if r["statement_id"].endswith(":p1")]
    assert (str(first["amount_due"]), first["currency"]) == ("864", "JPY")
    await terminate(env, request.deal_id)


async def test_renewal_extends_the_term_then_expiry_completes(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue, periods_per_review=8)
    for period in range(1, 5):
        await report_after_period_end(env, pool, deal_id, period, "150000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "renewal-1"))

    await decide_then_new_run(env.client, deal_id, "renewal-1", OWNER, "renew", renew_periods=4)
    state = await wait_state(
        env.client, deal_id, lambda s: s.term_periods == 8 and s.next_period == 5
    )
    assert state.stage is Stage.MONITORING
    for period in range(5, 9):
        await report_after_period_end(env, pool, deal_id, period, "150000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "review-8"))
    await decide_signal(env.client, deal_id, "review-8", OWNER, "continue")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "renewal-2"))
    await decide_signal(env.client, deal_id, "renewal-2", OWNER, "expire")

    outcome = await outcome_of(env, deal_id)
    assert outcome.stage is Stage.COMPLETED
    assert [y.contract_year for y in outcome.years] == [1, 2]
    assert f"{deal_id}:y2:p8" in await amounts(pool, deal_id)


async def test_deal_without_reports_or_decisions_expires_with_minimum_guarantee(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id, _ = await launched_deal(env, task_queue)

    outcome = await outcome_of(env, deal_id)  # time skips through every SLA

    assert outcome.stage is Stage.COMPLETED
    assert await amounts(pool, deal_id) == {
        f"{deal_id}:y1:true-up": Decimal("40000"),
        f"{deal_id}:final": Decimal("0"),
    }
    state = await latest(env.client, deal_id).query(LicensingDealWorkflow.state)
    events = [h.event for h in state.history]
    assert events.count("report_missing") == 4
    assert "review_default_continue" in events and "renewal_default_expire" in events
