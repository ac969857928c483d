"""Money events end to end (time skipping, real Postgres): final accounting after a
termination or expiry, credit notes, adjustments of closed years, unlicensed sales.

Terms (deal_helpers): tiers 8% to 500k then 10%, advance 20,000 (year 1), MG 60,000 a year,
four quarterly periods a year. Expected amounts are worked out by hand in each test.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    PARTNER_CONTACT,
    deal_request,
    decide_signal,
    decide_then_new_run,
    latest,
    launch,
    line,
    open_task,
    outcome_of,
    replay_and_record_runs,
    report_after_period_end,
    schedule,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import track

from domain.deal import RoyaltyTier, Terms, UnlicensedPolicy
from domain.deal_messages import TerminateInput
from domain.deal_state import (
    DealRunInput,
    DealState,
    DealWorkflowState,
    PeriodRecord,
    ReportKey,
    Stage,
    YearSummary,
)
from domain.ids import deal_workflow_id
from domain.royalty import ContractYearLedger
from domain.schedule import period_end, period_start
from domain.tasks import TaskKind
from store import notifications, statements
from workflows.licensing_deal import LicensingDealWorkflow


def terms(**overrides: Any) -> Terms:
    data: dict[str, Any] = {
        "royalty_tiers": [
            RoyaltyTier(up_to=Decimal("500000"), rate=Decimal("0.08")),
            RoyaltyTier(up_to=None, rate=Decimal("0.10")),
        ],
        "advance": Decimal("20000"),
        "minimum_guarantee_per_year": Decimal("60000"),
    }
    data.update(overrides)
    return Terms(**data)


async def start(
    env: WorkflowEnvironment, task_queue: str, *, deal_terms: Terms | None = None, **sched: Any
) -> str:
    request = deal_request(
        terms=deal_terms or terms(),
        schedule=schedule(**{"term_periods": 4, "periods_per_review": 8, **sched}),
    )
    await start_deal(env.client, request, task_queue)
    await launch(env.client, request.deal_id)
    return request.deal_id


async def issued(pool: asyncpg.Pool, deal_id: str) -> dict[str, tuple[str, Decimal]]:
    """statement key (without the deal id) -> (kind, amount)."""
    return {
        r["statement_id"].removeprefix(f"{deal_id}:"): (r["kind"], r["amount_due"])
        for r in await statements.for_deal(pool, deal_id)
    }


def period(state: DealState, n: int) -> Any:
    return next(p for p in state.periods if p.period == n)


async def test_a_report_in_its_grace_after_a_termination_is_still_invoiced(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Terminated 2 days after p2 ended: p2's 300k report (in its grace) is invoiced; the
    running p3 is cut short, reminded and marked missing; the final statement follows."""
    env = time_worker
    deal_id = await start(env, task_queue)
    await report_after_period_end(env, pool, deal_id, 1, "100000")
    state = await wait_state(env.client, deal_id, lambda s: len(s.periods) == 2)
    await skip_to(env, period(state, 2).ends_at + timedelta(days=2))
    await latest(env.client, deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="licensee sold"),
    )
    state = await wait_state(env.client, deal_id, lambda s: s.stage is Stage.WINDING_DOWN)
    assert [(p.period, p.kind, p.status) for p in state.periods] == [
        (1, "regular", "checked"),
        (2, "regular", "open"),
        (3, "partial", "open"),
    ]
    assert state.term_periods == 3  # no report beyond the cut-short period

    await submit_report(pool, env.client, deal_id, 2, [line("300000")])
    outcome = await outcome_of(env, deal_id)

    assert outcome.stage is Stage.TERMINATED
    # p2: 400k year to date earn 32,000, less the 20,000 advance = 12,000 (was lost before);
    # final: MG pro rata 2 of 4 ended periods = 30,000, covered by the 32,000 earned
    assert await issued(pool, deal_id) == {
        "y1:p1": ("period", Decimal("0.00")),
        "y1:p2": ("period", Decimal("12000.00")),
        "final": ("final", Decimal("0.00")),
    }
    final_state = await latest(env.client, deal_id).query(LicensingDealWorkflow.state)
    events = [h.event for h in final_state.history]
    assert "report_missing" in events  # p3, cut short, never reported
    reminders = [
        n for n in await notifications.for_deal(pool, deal_id) if n["kind"] == "report_reminder"
    ]
    assert {n["recipient"] for n in reminders} == {PARTNER_CONTACT}
    await replay_and_record_runs(env.client, deal_id, {"money_grace_termination": ""})


async def test_expiry_with_a_sell_off_accepts_late_and_sell_off_reports(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """At expiry p4 is missing; during the 90-day sell-off its report and the sell-off
    period's report still arrive and adjust the settled year."""
    env = time_worker
    deal_id = await start(env, task_queue, deal_terms=terms(sell_off="P90D"))
    for n in (1, 2, 3):
        await report_after_period_end(env, pool, deal_id, n, "100000")
    await report_after_period_end(env, pool, deal_id, 4, None)  # missing
    await wait_state(env.client, deal_id, lambda s: open_task(s, "renewal-1"))
    await decide_signal(env.client, deal_id, "renewal-1", OWNER, "expire")
    state = await wait_state(env.client, deal_id, lambda s: s.stage is Stage.WINDING_DOWN)
    assert [(p.period, p.kind) for p in state.periods][-1] == (5, "sell_off")
    assert period(state, 5).contract_year == 1

    await submit_report(pool, env.client, deal_id, 4, [line("100000")])
    await wait_state(env.client, deal_id, lambda s: period(s, 4).status == "checked")
    await skip_to(env, period(state, 5).ends_at + timedelta(seconds=1))
    await submit_report(pool, env.client, deal_id, 5, [line("500000")])
    outcome = await outcome_of(env, deal_id)

    assert outcome.stage is Stage.COMPLETED
    # year 1: p1-p3 300k earn 24,000 (4,000 invoiced over the advance); the true-up brings
    # it to the 60,000 MG (36,000). p4 (100k late) earns 8,000 more: still under the MG, 0.
    # sell-off 500k: 900k earn 40,000 + 40,000 = 80,000 -> 20,000 adjustment.
    assert await issued(pool, deal_id) == {
        "y1:p1": ("period", Decimal("0.00")),
        "y1:p2": ("period", Decimal("0.00")),
        "y1:p3": ("period", Decimal("4000.00")),
        "y1:true-up": ("true_up", Decimal("36000.00")),
        "y1:p4": ("adjustment", Decimal("0.00")),
        "y1:p5": ("adjustment", Decimal("20000.00")),
        "final": ("final", Decimal("0.00")),
    }
    assert [(y.contract_year, y.royalty_earned) for y in outcome.years] == [
        (1, Decimal("80000.00"))
    ]
    await replay_and_record_runs(env.client, deal_id, {"money_sell_off": ""})


async def test_a_downward_correction_and_net_returns_issue_credit_notes(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await start(env, task_queue)
    await report_after_period_end(env, pool, deal_id, 1, "400000")
    # p1 400k earn 32,000: 12,000 over the advance. Corrected to 100k: 8,000 earned, the
    # advance (20,000) still stands, so 12,000 is credited and no more.
    await submit_report(pool, env.client, deal_id, 1, [line("100000")], version=2)
    await wait_state(env.client, deal_id, lambda s: period(s, 1).report_version == 2)
    # p2 sells 600k: 700k earn 40,000 + 20,000 = 60,000 -> 40,000 invoiced
    await report_after_period_end(env, pool, deal_id, 2, "600000")
    # p3: 50k sold, 350k returned -> -300k; 400k earn 32,000 -> 28,000 credited
    state = await wait_state(env.client, deal_id, lambda s: len(s.periods) == 3)
    await skip_to(env, period(state, 3).ends_at + timedelta(seconds=1))
    await submit_report(pool, env.client, deal_id, 3, [line("50000", returns=Decimal("350000"))])
    await wait_state(env.client, deal_id, lambda s: period(s, 3).status == "checked")

    billed = await issued(pool, deal_id)
    assert billed == {
        "y1:p1": ("period", Decimal("12000.00")),
        "y1:p1:v2": ("credit_note", Decimal("-12000.00")),
        "y1:p2": ("period", Decimal("40000.00")),
        "y1:p3": ("credit_note", Decimal("-28000.00")),
    }
    # never below the guarantee: the year so far owes max(20,000, 32,000)
    assert Decimal("20000") + sum(a for _, a in billed.values()) == Decimal("32000")
    # patch lean-calls: local checks and statements, one read-model write per period
    await replay_and_record_runs(env.client, deal_id, {"lean_calls": ""})
    await latest(env.client, deal_id).terminate("test over")


async def test_a_correction_for_a_closed_year_is_billed_in_the_next_year(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Year 1 of 4 x 200k is invoiced; in year 2 (a new run) an audit corrects p2 to 500k:
    30,000 more for year 1."""
    env, client = time_worker, time_worker.client
    deal_id = await start(env, task_queue, term_periods=8, periods_per_review=4)
    for n in (1, 2, 3, 4):
        await report_after_period_end(env, pool, deal_id, n, "200000")
    await wait_state(client, deal_id, lambda s: open_task(s, "review-4"))
    await decide_then_new_run(client, deal_id, "review-4", OWNER, "continue")
    await report_after_period_end(env, pool, deal_id, 5, "100000")

    await submit_report(pool, client, deal_id, 2, [line("500000")], version=2)
    state = await wait_state(
        client, deal_id, lambda s: any(s2.statement_id.endswith(":y1:p2:v2") for s2 in s.statements)
    )

    billed = await issued(pool, deal_id)
    # year 1: 800k earned 70,000 (MG covered, no true-up); 1.1M earn 100,000: +30,000
    assert billed["y1:true-up"] == ("true_up", Decimal("0.00"))
    assert billed["y1:p2:v2"] == ("adjustment", Decimal("30000.00"))
    assert billed["y2:p5"] == ("period", Decimal("8000.00"))  # year 2: no advance
    assert [(y.contract_year, y.royalty_earned, y.invoiced + y.true_up) for y in state.years] == [
        (1, Decimal("100000.00"), Decimal("100000.00"))
    ]
    await latest(client, deal_id).terminate("test over")


async def test_unlicensed_sales_are_charged_and_open_a_compliance_task(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """100k licensed + 950k outside the territory: the 950k is charged at the highest rate
    (10%) on top of the guarantee; the owner's notice of breach brings the review forward."""
    env, client = time_worker, time_worker.client
    deal_id = await start(env, task_queue, periods_per_review=4)
    state = await wait_state(client, deal_id, lambda s: bool(s.periods))
    await skip_to(env, state.periods[0].ends_at + timedelta(seconds=1))
    await submit_report(
        pool, client, deal_id, 1, [line("100000"), line("950000", territory="US", sku="MB-X")]
    )
    # the decision is taken once period 1 is closed: the early review follows period 2
    state = await wait_state(
        client,
        deal_id,
        lambda s: open_task(s, "compliance-p1-v1") and s.periods[0].status == "checked",
    )
    [task] = [t for t in state.open_tasks if t.kind is TaskKind.COMPLIANCE]
    assert (task.assignees, task.allowed_decisions) == (
        [OWNER],
        ["acknowledge", "dispute", "notice_of_breach"],
    )
    [row] = await statements.for_deal(pool, deal_id)
    # licensed 100k earn 8,000 (under the 20,000 advance); unlicensed 950k x 10% = 95,000
    assert (row["unlicensed_royalty"], row["amount_due"]) == (
        Decimal("95000.00"),
        Decimal("95000.00"),
    )

    await decide_signal(client, deal_id, "compliance-p1-v1", OWNER, "notice_of_breach")
    state = await wait_state(client, deal_id, lambda s: not open_task(s, "compliance-p1-v1"))
    await report_after_period_end(env, pool, deal_id, 2, "100000")
    # the early review follows p2 (the regular one would follow p4)
    state = await wait_state(client, deal_id, lambda s: open_task(s, "review-2"))
    sent = {(n["recipient"], n["kind"]) for n in await notifications.for_deal(pool, deal_id)}
    assert (PARTNER_CONTACT, "notice_of_breach") in sent
    assert (OWNER, "unlicensed_sales") in sent
    await latest(client, deal_id).terminate("test over")


async def test_unlicensed_policy_exclude_charges_nothing_and_the_task_expires(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env, client = time_worker, time_worker.client
    deal_id = await start(
        env, task_queue, deal_terms=terms(unlicensed=UnlicensedPolicy(policy="exclude"))
    )
    state = await wait_state(client, deal_id, lambda s: bool(s.periods))
    await skip_to(env, state.periods[0].ends_at + timedelta(seconds=1))
    await submit_report(pool, client, deal_id, 1, [line("300000", channel="retail")])
    state = await wait_state(client, deal_id, lambda s: open_task(s, "compliance-p1-v1"))
    [row] = await statements.for_deal(pool, deal_id)
    assert (row["unlicensed_royalty"], row["amount_due"]) == (Decimal("0.00"), Decimal("0.00"))
    task = next(t for t in state.open_tasks if t.kind is TaskKind.COMPLIANCE)

    await skip_to(env, task.due_at + timedelta(seconds=1))
    state = await wait_state(client, deal_id, lambda s: not open_task(s, "compliance-p1-v1"))
    events = [h.event for h in state.history]
    assert "compliance_default_acknowledge" in events
    await latest(client, deal_id).terminate("test over")


async def test_terminated_in_the_grace_of_a_year_end_settles_that_year_then_the_final_one(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Terminated 2 days into year 2 while p4 (year 1) is still in its grace: p4 is invoiced,
    year 1 gets its true-up to the MG, year 2 (no period ended in full) owes no guarantee."""
    env, client = time_worker, time_worker.client
    deal_id = await start(env, task_queue, term_periods=8)
    for n in (1, 2, 3):
        await report_after_period_end(env, pool, deal_id, n, "100000")
    state = await wait_state(client, deal_id, lambda s: len(s.periods) == 4)
    await skip_to(env, period(state, 4).ends_at + timedelta(days=2))
    await latest(client, deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="licensee insolvent"),
    )
    state = await wait_state(client, deal_id, lambda s: s.stage is Stage.WINDING_DOWN)
    assert [(p.period, p.contract_year, p.kind) for p in state.periods][-2:] == [
        (4, 1, "regular"),
        (5, 2, "partial"),
    ]
    await submit_report(pool, client, deal_id, 4, [line("100000")])
    outcome = await outcome_of(env, deal_id)

    assert outcome.stage is Stage.TERMINATED
    # year 1: 400k earn 32,000 -> p3 4,000, p4 8,000; true-up 60,000 - 32,000 = 28,000
    assert await issued(pool, deal_id) == {
        "y1:p1": ("period", Decimal("0.00")),
        "y1:p2": ("period", Decimal("0.00")),
        "y1:p3": ("period", Decimal("4000.00")),
        "y1:p4": ("period", Decimal("8000.00")),
        "y1:true-up": ("true_up", Decimal("28000.00")),
        "final": ("final", Decimal("0.00")),
    }


async def test_a_run_continued_from_the_running_ledger_converts_to_year_books(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """A deal whose year 1 ran before year books (running ledger, year summary) continues
    as new: its next run books year 1 from the carried periods, so an audit correction of
    year 1 is billed (before: noted as `contract year closed`)."""
    env, client = time_worker, time_worker.client
    request = deal_request(schedule=schedule(term_periods=8, periods_per_review=8))
    now = await env.get_current_time()
    launched = now - timedelta(days=365) + timedelta(hours=1)
    sched = request.schedule
    records = {
        n: PeriodRecord(
            period=n,
            contract_year=1,
            starts_at=period_start(launched, sched.period, n),
            ends_at=period_end(launched, sched.period, n),
            report_due_at=period_end(launched, sched.period, n) + timedelta(days=15),
            status="checked",
            net_sales=Decimal("200000"),
            report_version=1,
        )
        for n in (1, 2, 3, 4)
    }
    # the running ledger of year 1 (4 x 200k): 70,000 earned and invoiced, no true-up
    carry = DealWorkflowState(
        stage=Stage.MONITORING,
        plan=request.plan,
        partner_id="acme",
        partner_contact=PARTNER_CONTACT,
        launched_at=launched,
        term_periods=8,
        next_period=5,
        ledger=ContractYearLedger(
            contract_year=1,
            ytd_net_sales=Decimal("800000"),
            earned=Decimal("70000"),
            invoiced=Decimal("70000"),
            advance_credit=Decimal("20000"),
        ),
        periods=records,
        years=[
            YearSummary(
                contract_year=1,
                net_sales=Decimal("800000"),
                royalty_earned=Decimal("70000"),
                invoiced=Decimal("70000"),
                true_up=Decimal("0"),
            )
        ],
        reports=[ReportKey(period=n, version=1) for n in (1, 2, 3, 4)],
        run=2,
    )
    track(client, deal_workflow_id(request.deal_id))
    await client.start_workflow(
        LicensingDealWorkflow.run,
        DealRunInput(request=request, carry=carry),
        id=deal_workflow_id(request.deal_id),
        task_queue=task_queue,
    )
    state = await wait_state(client, request.deal_id, lambda s: 5 in [p.period for p in s.periods])
    assert state.year_books and [y.contract_year for y in state.years] == [1]

    await submit_report(pool, client, request.deal_id, 2, [line("500000")], version=2)
    await wait_state(
        client,
        request.deal_id,
        lambda s: any(x.statement_id.endswith(":y1:p2:v2") for x in s.statements),
    )
    billed = await issued(pool, request.deal_id)
    # 1.1M earn 40,000 + 60,000 = 100,000: 30,000 more than the 70,000 already billed
    assert billed == {"y1:p2:v2": ("adjustment", Decimal("30000.00"))}
    await latest(client, request.deal_id).terminate("test over")
