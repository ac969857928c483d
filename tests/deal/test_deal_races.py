"""LicensingDeal message races: a decision in the same workflow task as its expiry timer, and
a report correction arriving while the year-end review is open (before continue-as-new)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import asyncpg
from deal_helpers import (
    OWNER,
    PLAN_APPROVERS,
    deal_request,
    deal_worker,
    decide_signal,
    latest,
    launch,
    line,
    open_task,
    report_after_period_end,
    schedule,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from polling import eventually
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.deal import DealActivities
from domain.deal_activity_io import SalesCheckInput, SalesCheckResult
from domain.ids import deal_workflow_id
from licenseflow.config import Settings
from store import statements


async def timer_events(client: Client, workflow_id: str, kind: EventType.ValueType, n: int) -> None:
    """Poll the history until it holds `n` events of `kind` (bounded)."""

    async def count() -> int:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return sum(e.event_type == kind for e in history.events)

    await eventually(count, lambda seen: seen >= n, within=20, interval=0.05)


async def test_decision_arriving_with_the_expiry_timer_is_applied_not_expired(
    dev_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env = dev_env
    request = deal_request(schedule=schedule(term_periods=4, decision_sla="PT1S"))
    workflow_id = deal_workflow_id(request.deal_id)
    async with deal_worker(env.client, pool, settings, task_queue):
        await start_deal(env.client, request, task_queue)
        # Remind at SLA, escalate at 2xSLA, then the expiry timer runs (three timers).
        await timer_events(env.client, workflow_id, EventType.EVENT_TYPE_TIMER_STARTED, 3)
    # No worker: the expiry timer fires, then the approval joins that pending workflow task.
    await timer_events(env.client, workflow_id, EventType.EVENT_TYPE_TIMER_FIRED, 3)
    await decide_signal(env.client, request.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    async with deal_worker(env.client, pool, settings, task_queue):
        state = await wait_state(
            env.client,
            request.deal_id,
            lambda s: any(
                h.event in ("stage:implementation", "stage:cancelled") for h in s.history
            ),
            what="plan decided",
        )
    events = [h.event for h in state.history]
    assert "stage:implementation" in events, state.history[-4:]
    assert "stage:cancelled" not in events


async def test_correction_during_the_year_end_review_is_booked_before_the_true_up(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    request = deal_request(schedule=schedule(term_periods=8))
    deal_id = request.deal_id
    await start_deal(env.client, request, task_queue)
    await launch(env.client, deal_id)
    for period, net in enumerate(("100000", "150000", "200000", "50000"), 1):
        await report_after_period_end(env, pool, deal_id, period, net)
    await wait_state(env.client, deal_id, lambda s: open_task(s, "review-4"), what="review")

    await submit_report(pool, env.client, deal_id, 4, [line("150000")], version=2)
    await wait_state(
        env.client,
        deal_id,
        lambda s: any(h.event == "report_received" and "v2" in (h.detail or "") for h in s.history),
        what="correction received",
    )
    first_run = (await latest(env.client, deal_id).describe()).run_id
    await decide_signal(env.client, deal_id, "review-4", OWNER, "continue")

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while (await latest(env.client, deal_id).describe()).run_id == first_run:
        assert loop.time() < deadline, "no continue-as-new after the year-end review"
        await asyncio.sleep(0.05)
    issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
    assert issued[f"{deal_id}:y1:p4:v2"]["amount_due"] == Decimal(
        "10000"
    )  # 100,000 above 500,000 at 10%
    true_up = issued[f"{deal_id}:y1:true-up"]
    assert true_up["net_sales"] == Decimal("600000")
    assert true_up["amount_due"] == Decimal("10000")  # 60,000 guarantee - 50,000 earned
    # the new run answers once its first workflow task is done: terminating it mid-task (its
    # read-model write in flight) leaves the time-skipping server's clock locked for later tests
    await wait_state(env.client, deal_id, lambda s: True, what="the new run at rest")
    await latest(env.client, deal_id).terminate("test over")


async def test_correction_arriving_while_its_period_is_being_checked_is_rechecked(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env = time_env
    request = deal_request(schedule=schedule(term_periods=4))
    deal_id = request.deal_id
    real = DealActivities(pool)
    corrected: list[int] = []

    @activity.defn(name="check_sales")
    async def check_sales(inp: SalesCheckInput) -> SalesCheckResult:
        """The real check; for period 1 a corrected v2 is posted while the check runs."""
        result = await real.check_sales(inp)
        if inp.period == 1 and not corrected:
            corrected.append(1)
            await submit_report(pool, env.client, deal_id, 1, [line("350000")], version=2)
        return result

    async with deal_worker(env.client, pool, settings, task_queue, check_sales):
        await start_deal(env.client, request, task_queue)
        await launch(env.client, deal_id)
        await report_after_period_end(env, pool, deal_id, 1, "300000")
        state = await wait_state(
            env.client, deal_id, lambda s: s.periods[0].report_version == 2, what="re-check"
        )
        assert state.periods[0].net_sales == Decimal("350000")
        issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
        assert issued[f"{deal_id}:y1:p1:v2"]["amount_due"] == Decimal("4000")
        await latest(env.client, deal_id).terminate("test over")


async def test_report_signalled_while_the_due_date_check_runs_is_invoiced_not_missing(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    """The lost-report race: the due-date check reads the store before the report's insert,
    and the report's signal is handled before the check's "not found" result. The period
    must be decided from everything received: invoiced, never marked missing."""
    env = time_env
    request = deal_request(schedule=schedule(term_periods=4))
    deal_id = request.deal_id
    real = DealActivities(pool)
    raced: list[int] = []

    @activity.defn(name="check_sales")
    async def check_sales(inp: SalesCheckInput) -> SalesCheckResult:
        if inp.period != 1 or raced:
            return await real.check_sales(inp)
        raced.append(1)
        # this check read the store before the report existed ...
        await submit_report(pool, env.client, deal_id, 1, [line("300000")])
        # ... and answers only after the workflow has handled the report's signal
        await wait_state(
            env.client,
            deal_id,
            lambda s: any(h.event == "report_received" for h in s.history),
            what="report signal handled during the check",
        )
        return SalesCheckResult(period=1, report_exists=False)

    async with deal_worker(env.client, pool, settings, task_queue, check_sales):
        await start_deal(env.client, request, task_queue)
        state = await launch(env.client, deal_id)
        first = await wait_state(env.client, deal_id, lambda s: bool(s.periods))
        # to the due date exactly: the check starts then, and no time skip overlaps it
        await skip_to(env, first.periods[0].report_due_at)
        state = await wait_state(
            env.client, deal_id, lambda s: s.periods[0].status != "open", what="period 1 decided"
        )
        assert raced == [1]
        assert (state.periods[0].status, state.periods[0].net_sales) == (
            "checked",
            Decimal("300000"),
        )
        assert not any(h.event == "report_missing" for h in state.history)
        issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
        # 300,000 x 8% = 24,000 earned, less the 20,000 advance already paid
        assert issued[f"{deal_id}:y1:p1"]["amount_due"] == Decimal("4000.00")
        await latest(env.client, deal_id).terminate("test over")
