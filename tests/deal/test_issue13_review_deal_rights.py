"""Review of issue 13 (rights ledger) in the LicensingDeal workflow: a deal signed before its
scheduled start and terminated before it starts ends cleanly, its grants released; a renewal
decided while an approved amendment awaits its signature holds the amendment's cells to the
new term end."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from deal_helpers import (
    OWNER,
    PLAN_APPROVERS,
    decide_signal,
    decide_then_new_run,
    latest,
    launch,
    open_task,
    outcome_of,
    report_after_period_end,
    schedule,
    seed_partner,
    sign,
    start_deal,
    wait_state,
)
from polling import eventually
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from test_deal_rights import exclusive, held, ledger_deal, reserved, scoped, seed_property

from domain.deal import RoyaltyTier, Terms
from domain.deal_messages import TerminateInput
from domain.deal_state import DealState, Stage
from domain.schedule import period_end
from workflows.licensing_deal import LicensingDealWorkflow


async def end_deals(env: WorkflowEnvironment, *deal_ids: str) -> None:
    """Terminate the test's deals and await their end (a deal left running keeps timers
    that stall time skipping for the next test)."""
    for deal_id in deal_ids:
        handle = latest(env.client, deal_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.signal(
                LicensingDealWorkflow.terminate_signal,
                TerminateInput(requested_by=OWNER, reason="test over"),
            )
        assert (await outcome_of(env, deal_id)).stage in (Stage.TERMINATED, Stage.CANCELLED)


def _ended_or_blocked(state: DealState) -> bool:
    return state.stage is Stage.TERMINATED or state.health == "blocked"


async def test_termination_before_the_scheduled_start_ends_the_deal_and_frees_the_cell(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Signed in advance (schedule.start 60 days ahead, no sell-off), then terminated before
    the first period starts: the grants' window [launch, termination) is empty, which is
    nothing to hold, not a property that cannot be licensed. The deal must terminate (not
    park on a rights incident that only offers `retry`) and release the cell."""
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    start = (await env.get_current_time() + timedelta(days=60)).replace(microsecond=0)
    terms = Terms(royalty_tiers=[RoyaltyTier(rate="0.08")])
    request = ledger_deal(
        "acme", exclusive("DE"), schedule=schedule(term_periods=4, start=start), terms=terms
    )
    await start_deal(client, request, task_queue)
    state = await launch(client, request.deal_id)
    assert state.launched_at == start
    assert (await held(pool, request.deal_id))["DE"]["status"] == "active"

    await latest(client, request.deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="licensee withdrew before launch"),
    )
    state = await wait_state(client, request.deal_id, _ended_or_blocked, what="ended")
    assert state.health != "blocked", state.incident
    assert state.stage is Stage.TERMINATED
    assert (await outcome_of(env, request.deal_id)).stage is Stage.TERMINATED
    assert await held(pool, request.deal_id) == {}


async def test_a_renewal_while_an_amendment_awaits_its_signature_extends_its_cells_too(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """acme's amendment adds FR (approved: FR reserved), and before it is signed the owner
    renews the deal. The renewal must hold FR to the new term end as well: otherwise another
    deal takes FR from the old term end, and the amendment, once signed, cannot be applied
    (the deal parks on a rights incident that `retry` cannot resolve)."""
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    await seed_partner(pool, "globex")
    half_years = schedule(
        period="P6M", periods_per_year=2, term_periods=2, periods_per_review=1, decision_sla="P90D"
    )
    request = ledger_deal("acme", exclusive("DE"), schedule=half_years)
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    state = await launch(client, deal_id)
    assert state.launched_at is not None
    old_end = period_end(state.launched_at, "P6M", 2)
    new_end = period_end(state.launched_at, "P6M", 4)

    await report_after_period_end(env, pool, deal_id, 1, "150000")
    await wait_state(client, deal_id, lambda s: open_task(s, "review-1"))
    await decide_signal(
        client, deal_id, "review-1", OWNER, "amend", plan=scoped(exclusive("DE", "FR"))
    )
    await wait_state(client, deal_id, lambda s: open_task(s, "amendment-1"))
    await decide_signal(client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    await wait_state(client, deal_id, lambda s: open_task(s, "amendment-1-signature"))
    await reserved(pool, deal_id, {"DE", "FR"})

    await report_after_period_end(env, pool, deal_id, 2, "150000")
    await wait_state(client, deal_id, lambda s: open_task(s, "review-2"))
    await decide_signal(client, deal_id, "review-2", OWNER, "continue")
    await wait_state(client, deal_id, lambda s: open_task(s, "renewal-1"))
    await decide_then_new_run(client, deal_id, "renewal-1", OWNER, "renew", renew_periods=2)
    rows = await held(pool, deal_id)
    assert (rows["DE"]["status"], rows["DE"]["ends_at"]) == ("active", new_end)
    assert (rows["FR"]["status"], rows["FR"]["ends_at"]) == ("reserved", new_end)

    # another licensee asking FR from the old term end on is refused: acme holds it
    rival = ledger_deal("globex", exclusive("FR"), schedule=schedule(term_periods=4, start=old_end))
    await start_deal(client, rival, task_queue)
    await wait_state(client, rival.deal_id, lambda s: open_task(s, "plan-v1"))
    await decide_signal(client, rival.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await wait_state(client, rival.deal_id, lambda s: open_task(s, "revise-v1"))
    assert await held(pool, rival.deal_id) == {}

    await sign(client, deal_id, local_id="amendment-1-signature")
    state = await wait_state(
        client, deal_id, lambda s: s.plan_version == 2 or s.health == "blocked", what="applied"
    )
    assert state.health == "ok", state.incident
    await eventually(
        lambda: held(pool, deal_id),
        lambda found: found.get("FR", {}).get("status") == "active",
        what="FR active",
    )
    rows = await held(pool, deal_id)
    assert rows["FR"]["ends_at"] == new_end
    await end_deals(env, deal_id, rival.deal_id)


async def test_an_amendment_approved_after_the_term_end_awaiting_renewal_is_not_refused(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """The last review amends (adds FR) and the approver approves once the term has ended,
    while the renewal decision is open. Nothing is left of the term to reserve FR for: that
    is no rights conflict (it was refused as "not available to license"). Renewed, the deal
    holds FR to the new term end; signed, FR is active."""
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    half_years = schedule(
        period="P6M", periods_per_year=2, term_periods=2, periods_per_review=2, decision_sla="P90D"
    )
    request = ledger_deal("acme", exclusive("DE"), schedule=half_years)
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    state = await launch(client, deal_id)
    assert state.launched_at is not None
    new_end = period_end(state.launched_at, "P6M", 4)

    await report_after_period_end(env, pool, deal_id, 1, "150000")
    await report_after_period_end(env, pool, deal_id, 2, "150000")
    await wait_state(client, deal_id, lambda s: open_task(s, "review-2"))
    await decide_signal(
        client, deal_id, "review-2", OWNER, "amend", plan=scoped(exclusive("DE", "FR"))
    )
    await wait_state(
        client, deal_id, lambda s: open_task(s, "renewal-1") and open_task(s, "amendment-1")
    )
    await decide_signal(client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    state = await wait_state(
        client,
        deal_id,
        lambda s: s.amendment is not None and s.amendment.status != "approval",
        what="amendment decided",
    )
    assert state.amendment is not None
    assert state.amendment.status == "signature", state.amendment.reason

    await decide_then_new_run(client, deal_id, "renewal-1", OWNER, "renew", renew_periods=2)
    rows = await held(pool, deal_id)
    assert (rows["FR"]["status"], rows["FR"]["ends_at"]) == ("reserved", new_end)
    await sign(client, deal_id, local_id="amendment-1-signature")
    await eventually(
        lambda: held(pool, deal_id),
        lambda found: found.get("FR", {}).get("status") == "active",
        what="FR active",
    )
    assert (await held(pool, deal_id))["FR"]["ends_at"] == new_end
    await end_deals(env, deal_id)
