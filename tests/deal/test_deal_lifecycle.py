"""LicensingDeal end to end under time skipping: three contract years, exact statements."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from deal_helpers import (
    OWNER,
    PLAN_APPROVERS,
    approve_child,
    deal_request,
    decide_signal,
    decide_then_new_run,
    latest,
    launch,
    open_task,
    outcome_of,
    replay_and_record_runs,
    report_after_period_end,
    sign,
    start_deal,
    wait_state,
)
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.deal_state import Stage
from store import deals, notifications, statements

NET_SALES = {
    1: "100000",
    2: "150000",
    3: "200000",
    4: "50000",
    5: "200000",
    6: "250000",
    7: "150000",
    8: "150000",
    9: "120000",
    10: "130000",
    11: "140000",
    12: "150000",
}


def expected_statements(deal_id: str) -> dict[str, Decimal]:
    """Worked check (years 1 and 2); year 3: 540k sales earn 44,000, so a 16,000 true-up;
    the final statement at expiry owes nothing more."""
    amounts = {
        1: ["0", "0", "16000", "4000", "20000"],
        2: ["16000", "20000", "14000", "15000", "0"],
        3: ["9600", "10400", "11200", "12800", "16000"],
    }
    expected = {}
    for year, values in amounts.items():
        for index, value in enumerate(values[:4]):
            expected[f"{deal_id}:y{year}:p{(year - 1) * 4 + index + 1}"] = Decimal(value)
        expected[f"{deal_id}:y{year}:true-up"] = Decimal(values[4])
    expected[f"{deal_id}:final"] = Decimal(0)  # expiry: every year already settled
    return expected


async def test_three_year_deal_issues_exact_statements_and_continues_as_new(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env, client = time_worker, time_worker.client
    request = deal_request()
    deal_id = request.deal_id
    handle = await start_deal(client, request, task_queue)
    runs = [handle.result_run_id]

    state = await launch(client, deal_id)
    assert state.partner_id == "acme" and state.launched_at is not None

    for period in range(1, 13):
        await report_after_period_end(env, pool, deal_id, period, NET_SALES[period])
        if period % 4 == 0:
            await wait_state(client, deal_id, lambda s, p=period: open_task(s, f"review-{p}"))
        if period in (4, 8):  # year end: the review decision leads to continue-as-new
            runs.append(
                await decide_then_new_run(client, deal_id, f"review-{period}", OWNER, "continue")
            )
        elif period == 12:
            await decide_signal(client, deal_id, f"review-{period}", OWNER, "continue")
    await wait_state(client, deal_id, lambda s: open_task(s, "renewal-3"), what="renewal task")
    await decide_signal(client, deal_id, "renewal-3", OWNER, "expire")
    outcome = await outcome_of(env, deal_id)

    assert outcome.stage is Stage.COMPLETED
    rows = await statements.for_deal(pool, deal_id)
    assert {r["statement_id"]: r["amount_due"] for r in rows} == expected_statements(deal_id)
    assert [(y.contract_year, y.true_up) for y in outcome.years] == [
        (1, Decimal("20000")),
        (2, Decimal("0")),
        (3, Decimal("16000")),
    ]
    assert (await deals.get(pool, deal_id))["stage"] == "completed"

    final = await latest(client, deal_id).describe()
    assert final.status == WorkflowExecutionStatus.COMPLETED
    assert len(set(runs)) == 3 and final.run_id == runs[-1]
    history = await latest(client, deal_id).fetch_history()
    assert len(history.events) < 400
    kinds = {n["kind"] for n in await notifications.for_deal(pool, deal_id)}
    assert "deal_launched" in kinds
    await replay_and_record_runs(
        client, deal_id, {"year1_launch": runs[0], "year3_renewal": runs[2]}
    )


async def test_undecided_signature_decline_expires_and_cancels(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    client = time_worker.client
    request = deal_request()
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"), what="plan task")
    await decide_signal(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await approve_child(client, deal_id, by_signal=True)
    await sign(client, deal_id, event="declined", reason="exclusivity missing")
    await wait_state(client, deal_id, lambda s: open_task(s, "signature-declined-1"))

    outcome = await outcome_of(time_worker, deal_id)
    assert outcome.stage is Stage.CANCELLED
    assert "exclusivity missing" in (outcome.reason or "")
    assert "no decision in time" in (outcome.reason or "")
    sent = [(n["recipient"], n["kind"]) for n in await notifications.for_deal(pool, deal_id)]
    assert (OWNER, "task_reminder") in sent
    assert (PLAN_APPROVERS[0], "task_escalated") in sent
