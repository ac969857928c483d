"""The rights ledger in the LicensingDeal workflow (patch `rights-ledger`): deals naming a
property reserve their cells at plan approval, activate them at signature with the real
dates, are checked again at amendment and renewal, and release them when they end.

The issue's scenario runs on the dev server (Updates: the approver's `decide` answers 409);
the rest under time skipping (signals: a refusal shows in the deal's history and tasks)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    PLAN_APPROVERS,
    approve_child,
    deal_request,
    decide_signal,
    decide_update,
    latest,
    launch,
    open_task,
    outcome_of,
    plan,
    replay_and_record_runs,
    report_after_period_end,
    schedule,
    seed_partner,
    sign,
    start_deal,
    wait_state,
)
from factories import licensable_property
from polling import eventually
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import refusal

from domain import errors
from domain.common import LicensedScope
from domain.deal import DealRequest, Plan, RoyaltyTier, Terms
from domain.deal_messages import TerminateInput
from domain.deal_state import DealState, Stage
from store import grants, properties, users
from workflows.licensing_deal import LicensingDealWorkflow

PROPERTY = "moon-bear"


def exclusive(*territories: str) -> LicensedScope:
    return LicensedScope(
        categories=["apparel"], territories=list(territories), channels=["online"], exclusive=True
    )


def scoped(licensed: LicensedScope) -> Plan:
    return plan().model_copy(update={"scope": licensed})


async def seed_property(pool: asyncpg.Pool) -> None:
    await users.ensure(pool, OWNER, ["owner"])
    prop = licensable_property(PROPERTY)
    assert await properties.insert(pool, prop, owner=OWNER, created_by="test") is not None


def ledger_deal(partner_id: str, licensed: LicensedScope, **overrides: Any) -> DealRequest:
    return deal_request(
        deal_id=f"{partner_id}-{uuid.uuid4().hex[:8]}",
        property_id=PROPERTY,
        partners=[partner_id],
        plan=scoped(licensed),
        **overrides,
    )


async def held(pool: asyncpg.Pool, deal_id: str) -> dict[str, dict[str, Any]]:
    """The deal's rows still held, by territory (one category and channel in these tests)."""
    return {
        r["territory"]: r for r in await grants.for_deal(pool, deal_id) if r["status"] != "released"
    }


async def reserved(pool: asyncpg.Pool, deal_id: str, territories: set[str]) -> None:
    await eventually(
        lambda: held(pool, deal_id),
        lambda rows: set(rows) == territories,
        what=f"{deal_id} holding {sorted(territories)}",
    )


def events(state: DealState) -> list[str]:
    return [h.event for h in state.history]


async def approved_plan(env: WorkflowEnvironment, request: DealRequest, task_queue: str) -> None:
    """Start a deal and approve its plan (signal): its cells are reserved."""
    await start_deal(env.client, request, task_queue)
    await wait_state(env.client, request.deal_id, lambda s: open_task(s, "plan-v1"))
    await decide_signal(env.client, request.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await wait_state(
        env.client, request.deal_id, lambda s: s.stage is Stage.IMPLEMENTATION, what="approved"
    )


# ---- the issue's scenario ----------------------------------------------------------------


async def test_a_second_exclusive_plan_is_refused_409_and_goes_back_for_revision(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """acme and globex both ask apparel x {DE, FR} x online, exclusive: the second plan
    approval answers 409 naming acme's deal and a cell, the owner gets the revise task, and
    a plan revised to a free territory passes."""
    client = dev_worker.client
    await seed_property(pool)
    await seed_partner(pool, "globex")
    first = ledger_deal("acme", exclusive("DE", "FR"))
    second = ledger_deal("globex", exclusive("DE", "FR"))
    for request in (first, second):
        await start_deal(client, request, task_queue)
        await wait_state(client, request.deal_id, lambda s: open_task(s, "plan-v1"))

    state = await decide_update(client, first.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    assert state.stage is Stage.IMPLEMENTATION
    await reserved(pool, first.deal_id, {"DE", "FR"})

    refused = await refusal(
        decide_update(client, second.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    )
    assert refused.type == errors.CONFLICT
    assert f"held exclusively by deal {first.deal_id}" in refused.message
    assert "apparel/DE/online of property moon-bear" in refused.message
    assert "goes back to the owner for revision" in refused.message
    (detail,) = refused.details
    assert detail["rights_conflict"]["deal_id"] == first.deal_id
    assert (detail["rights_conflict"]["category"], detail["rights_conflict"]["territory"]) == (
        "apparel",
        "DE",
    )
    assert await held(pool, second.deal_id) == {}

    state = await wait_state(client, second.deal_id, lambda s: open_task(s, "revise-v1"))
    revise = next(t for t in state.open_tasks if t.task_id.endswith(":revise-v1"))
    assert revise.assignees == [OWNER] and first.deal_id in revise.title
    assert state.stage is Stage.PLANNING and "rights_refused" in events(state)

    await decide_update(
        client, second.deal_id, "revise-v1", OWNER, "revise", plan=scoped(exclusive("IT"))
    )
    await wait_state(client, second.deal_id, lambda s: open_task(s, "plan-v2"))
    state = await decide_update(client, second.deal_id, "plan-v2", PLAN_APPROVERS[1], "approve")
    assert state.stage is Stage.IMPLEMENTATION and state.plan_version == 2
    await reserved(pool, second.deal_id, {"IT"})
    assert set(await held(pool, first.deal_id)) == {"DE", "FR"}


async def test_a_deal_without_a_property_keeps_no_grants(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Deals started before properties (no `property_id`) run as before: no ledger calls."""
    request = deal_request(plan=scoped(exclusive("DE", "FR")))
    await start_deal(dev_worker.client, request, task_queue)
    await wait_state(dev_worker.client, request.deal_id, lambda s: open_task(s, "plan-v1"))
    state = await decide_update(
        dev_worker.client, request.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve"
    )
    assert state.stage is Stage.IMPLEMENTATION
    assert await grants.for_deal(pool, request.deal_id) == []
    assert not any(e.startswith("rights") for e in events(state))


# ---- signature ---------------------------------------------------------------------------


async def test_signature_activates_the_grants_with_the_real_dates(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Reserved at plan approval (no licensee yet), reserved for acme before the envelope,
    active from launch to the term end plus the 90-day sell-off once signed."""
    env = time_worker
    await seed_property(pool)
    terms = Terms(royalty_tiers=[RoyaltyTier(rate="0.08")], sell_off="P90D")
    request = ledger_deal("acme", exclusive("DE", "FR"), terms=terms)
    await approved_plan(env, request, task_queue)
    await reserved(pool, request.deal_id, {"DE", "FR"})
    rows = await held(pool, request.deal_id)
    assert {(r["status"], r["partner_id"], r["exclusive"]) for r in rows.values()} == {
        ("reserved", None, True)
    }

    await approve_child(env.client, request.deal_id, by_signal=True)
    await wait_state(env.client, request.deal_id, lambda s: open_task(s, "signature-1"))
    rows = await held(pool, request.deal_id)
    assert {(r["status"], r["partner_id"]) for r in rows.values()} == {("reserved", "acme")}

    await sign(env.client, request.deal_id)
    state = await wait_state(env.client, request.deal_id, lambda s: s.stage is Stage.MONITORING)
    launched = state.launched_at
    assert launched is not None
    # 12 quarterly periods: three calendar years from launch, then 90 days of sell-off
    term_end = launched.replace(year=launched.year + 3)
    await eventually(
        lambda: held(pool, request.deal_id),
        lambda found: {r["status"] for r in found.values()} == {"active"},
        what="active grants",
    )
    rows = await held(pool, request.deal_id)
    assert {(r["starts_at"], r["ends_at"]) for r in rows.values()} == {
        (launched, term_end + timedelta(days=90))
    }
    assert {r["partner_id"] for r in rows.values()} == {"acme"}
    assert "rights_activate" in events(state)
    await _terminate(env, request.deal_id)


# ---- amendment -------------------------------------------------------------------------


async def test_an_amendment_into_another_licensees_exclusive_territory_is_refused(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """acme's deal (DE, FR) amends into IT, which globex's deal reserved exclusively: the
    approval rejects the amendment naming globex's deal, nothing changes in the ledger. A
    later amendment to DE and ES passes: ES active from then on, DE kept since launch, FR
    released."""
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    await seed_partner(pool, "globex")
    request = ledger_deal(
        "acme", exclusive("DE", "FR"), schedule=schedule(term_periods=4, periods_per_review=1)
    )
    await start_deal(client, request, task_queue)
    state = await launch(client, request.deal_id)
    launched = state.launched_at
    await report_after_period_end(env, pool, request.deal_id, 1, "150000")
    await wait_state(client, request.deal_id, lambda s: open_task(s, "review-1"))

    rival = ledger_deal("globex", exclusive("IT"))
    await approved_plan(env, rival, task_queue)
    await reserved(pool, rival.deal_id, {"IT"})

    await decide_signal(
        client, request.deal_id, "review-1", OWNER, "amend",
        plan=scoped(exclusive("DE", "FR", "IT")),
    )  # fmt: skip
    await wait_state(client, request.deal_id, lambda s: open_task(s, "amendment-1"))
    await decide_signal(client, request.deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    state = await wait_state(
        client,
        request.deal_id,
        lambda s: s.amendment is not None and s.amendment.status == "rejected",
        what="amendment rejected by the ledger",
    )
    assert state.amendment is not None and state.amendment.reason is not None
    assert (
        f"apparel/IT/online of property moon-bear is held exclusively by deal {rival.deal_id}"
        in (state.amendment.reason)
    )
    assert state.plan_version == 1 and "rights_refused" in events(state)
    rows = await held(pool, request.deal_id)
    assert set(rows) == {"DE", "FR"} and {r["status"] for r in rows.values()} == {"active"}

    await report_after_period_end(env, pool, request.deal_id, 2, "150000")
    await wait_state(client, request.deal_id, lambda s: open_task(s, "review-2"))
    await decide_signal(
        client, request.deal_id, "review-2", OWNER, "amend", plan=scoped(exclusive("DE", "ES"))
    )
    await wait_state(client, request.deal_id, lambda s: open_task(s, "amendment-2"))
    await decide_signal(client, request.deal_id, "amendment-2", PLAN_APPROVERS[0], "approve")
    await wait_state(client, request.deal_id, lambda s: open_task(s, "amendment-2-signature"))
    await reserved(pool, request.deal_id, {"DE", "FR", "ES"})  # ES reserved, FR still in force
    pending = await held(pool, request.deal_id)
    assert (pending["ES"]["status"], pending["ES"]["plan_version"]) == ("reserved", 2)
    assert (pending["FR"]["status"], pending["FR"]["plan_version"]) == ("active", 1)
    await sign(client, request.deal_id, local_id="amendment-2-signature")
    state = await wait_state(client, request.deal_id, lambda s: s.plan_version == 2)
    await reserved(pool, request.deal_id, {"DE", "ES"})
    rows = await held(pool, request.deal_id)
    assert rows["DE"]["starts_at"] == launched
    assert rows["ES"]["status"] == "active" and rows["ES"]["starts_at"] > launched
    assert rows["DE"]["ends_at"] == rows["ES"]["ends_at"]
    assert {r["plan_version"] for r in rows.values()} == {2}
    await _terminate(env, request.deal_id, rival.deal_id)


# ---- renewal ---------------------------------------------------------------------------


async def test_a_renewal_into_another_deals_grant_is_refused_and_asked_again(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """globex's deal holds DE exclusively from the day acme's term ends: acme's renewal
    would overlap it, so it is refused (history and task name the conflict) and the owner
    decides again; `expire` completes the deal and releases its grants."""
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    await seed_partner(pool, "globex")
    request = ledger_deal(
        "acme", exclusive("DE"), schedule=schedule(term_periods=4, periods_per_review=8)
    )
    await start_deal(client, request, task_queue)
    state = await launch(client, request.deal_id)
    assert state.launched_at is not None
    term_end = state.launched_at.replace(year=state.launched_at.year + 1)
    for period in range(1, 5):
        await report_after_period_end(env, pool, request.deal_id, period, "150000")
    await wait_state(client, request.deal_id, lambda s: open_task(s, "renewal-1"))

    successor = ledger_deal(
        "globex", exclusive("DE"), schedule=schedule(term_periods=4, start=term_end)
    )
    await approved_plan(env, successor, task_queue)
    await reserved(pool, successor.deal_id, {"DE"})
    assert (await held(pool, successor.deal_id))["DE"]["starts_at"] == term_end

    await decide_signal(client, request.deal_id, "renewal-1", OWNER, "renew", renew_periods=4)
    state = await wait_state(client, request.deal_id, lambda s: open_task(s, "renewal-1-2"))
    again = next(t for t in state.open_tasks if t.task_id.endswith(":renewal-1-2"))
    assert successor.deal_id in again.title and again.assignees == [OWNER]
    assert state.term_periods == 4 and "rights_refused" in events(state)
    rows = await held(pool, request.deal_id)
    assert rows["DE"]["ends_at"] == term_end  # unchanged

    await decide_signal(client, request.deal_id, "renewal-1-2", OWNER, "expire")
    assert (await outcome_of(env, request.deal_id)).stage is Stage.COMPLETED
    assert await held(pool, request.deal_id) == {}
    assert set(await held(pool, successor.deal_id)) == {"DE"}
    await _terminate(env, successor.deal_id)


# ---- endings -----------------------------------------------------------------------------


async def test_termination_releases_the_cell_for_a_third_deal(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env, client = time_worker, time_worker.client
    await seed_property(pool)
    await seed_partner(pool, "globex")
    await seed_partner(pool, "initech")
    first = ledger_deal("acme", exclusive("DE"), schedule=schedule(term_periods=4))
    await start_deal(client, first, task_queue)
    await launch(client, first.deal_id)
    blocked = ledger_deal("globex", exclusive("DE"))
    await start_deal(client, blocked, task_queue)
    await wait_state(client, blocked.deal_id, lambda s: open_task(s, "plan-v1"))
    await decide_signal(client, blocked.deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await wait_state(client, blocked.deal_id, lambda s: open_task(s, "revise-v1"))

    await latest(client, first.deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="licensee insolvent"),
    )
    state = await wait_state(client, first.deal_id, lambda s: s.wind_down is not None)
    assert state.wind_down is not None
    cut = state.wind_down.at
    await eventually(
        lambda: held(pool, first.deal_id),
        lambda rows: rows.get("DE", {}).get("ends_at") == cut,
        what="the grant cut at the termination",
    )
    assert (await outcome_of(env, first.deal_id)).stage is Stage.TERMINATED
    assert await held(pool, first.deal_id) == {}

    third = ledger_deal("initech", exclusive("DE"))
    await approved_plan(env, third, task_queue)
    await reserved(pool, third.deal_id, {"DE"})
    await _terminate(env, third.deal_id, blocked.deal_id)
    # recorded for the replay tests: a ledger deal reserved, activated, cut and released;
    # one whose approval the ledger refused, then ended
    await replay_and_record_runs(client, first.deal_id, {"rights_terminated": ""})
    await replay_and_record_runs(client, blocked.deal_id, {"rights_refused": ""})


async def test_a_cancelled_deal_releases_its_reservation(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    """Nobody approves the partner in time: the deal is cancelled, its reservation released."""
    env = time_worker
    await seed_property(pool)
    request = ledger_deal("acme", exclusive("DE"))
    await approved_plan(env, request, task_queue)
    await reserved(pool, request.deal_id, {"DE"})
    assert (await outcome_of(env, request.deal_id)).stage is Stage.CANCELLED
    assert await held(pool, request.deal_id) == {}
    rows = await grants.for_deal(pool, request.deal_id)
    assert {r["status"] for r in rows} == {"released"}


async def _terminate(env: WorkflowEnvironment, *deal_ids: str) -> None:
    """End the test's deals (a deal left waiting on its partner approval leaves a child
    whose timers would stall time skipping for the next tests)."""
    for deal_id in deal_ids:
        handle = latest(env.client, deal_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.signal(
                LicensingDealWorkflow.terminate_signal,
                TerminateInput(requested_by=OWNER, reason="test over"),
            )
        assert (await outcome_of(env, deal_id)).stage in (Stage.TERMINATED, Stage.CANCELLED)
