"""Plan amendments of a signed deal under time skipping (patch `amendment-approval`):
`amend` at a review proposes; plan approval, then (scope or KPIs changed) the licensee's
signature on an amendment envelope; only then the new plan version applies. Monitoring goes
on meanwhile. Signals only: the test server lacks Updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    PARTNER_CONTACT,
    PLAN_APPROVERS,
    SIGNATORY,
    deal_request,
    decide_signal,
    decide_then_new_run,
    latest,
    launch,
    open_task,
    outcome_of,
    plan,
    replay_and_record_runs,
    report_after_period_end,
    schedule,
    sign,
    skip_to,
    start_deal,
    wait_state,
)
from polling import eventually
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import HISTORIES, replayer

from domain.common import LicensedScope
from domain.deal import Kpi, Plan, Promotion
from domain.deal_messages import SignatureEvent, TerminateInput
from domain.deal_state import DealOutcome, DealState, KpiStatus, Stage
from domain.signed_terms import terms_hash
from licenseflow.converter import data_converter
from store import envelopes, notifications, users
from workflows.licensing_deal import LicensingDealWorkflow

NARROWER = LicensedScope(categories=["apparel"], territories=["DE"], channels=["online"])


def task(state: DealState, local_id: str) -> Any:
    return next(t for t in state.open_tasks if t.task_id.endswith(f":{local_id}"))


def events(state: DealState) -> list[str]:
    return [h.event for h in state.history]


async def reviewed(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, **overrides: Any
) -> str:
    """A launched one-year deal (reviews every 2 quarters) at its first review, review-2."""
    settings = {"term_periods": 4, "periods_per_review": 2, **overrides}
    request = deal_request(schedule=schedule(**settings))
    await start_deal(env.client, request, task_queue)
    await launch(env.client, request.deal_id)
    await report_after_period_end(env, pool, request.deal_id, 1, "100000")
    await report_after_period_end(env, pool, request.deal_id, 2, "100000")
    await wait_state(env.client, request.deal_id, lambda s: open_task(s, "review-2"))
    return request.deal_id


async def propose(env: WorkflowEnvironment, deal_id: str, amended: Plan) -> DealState:
    """`amend` on review-2; the state once the amendment's approval task is open."""
    await decide_signal(env.client, deal_id, "review-2", OWNER, "amend", plan=amended)
    return await wait_state(
        env.client, deal_id, lambda s: open_task(s, "amendment-1"), what="amendment approval"
    )


async def notified(pool: asyncpg.Pool, deal_id: str, kind: str) -> None:
    """Wait until the deal queued a notification of `kind` (it follows the state change)."""
    await eventually(
        lambda: notifications.for_deal(pool, deal_id),
        lambda sent: any(n["kind"] == kind for n in sent),
        what=f"{kind} notification",
    )


async def terminate(env: WorkflowEnvironment, deal_id: str) -> None:
    await latest(env.client, deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="test over"),
    )
    assert (await outcome_of(env, deal_id)).stage is Stage.TERMINATED


async def test_a_rejected_amendment_keeps_the_plan_in_force(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue)
    before = await wait_state(env.client, deal_id, lambda s: True)

    state = await propose(env, deal_id, plan(target="50000"))
    approval = task(state, "amendment-1")
    assert (approval.kind, approval.version) == ("plan_approval", 2)
    assert approval.assignees == sorted(PLAN_APPROVERS)  # never the owner
    assert approval.allowed_decisions == ["approve", "reject"]
    assert state.plan_version == 1 and state.plan == before.plan  # not in force yet
    assert state.amendment is not None
    assert (state.amendment.status, state.amendment.changes) == ("approval", ["kpis"])
    assert state.stage is Stage.MONITORING  # the review is over, monitoring goes on

    await decide_signal(
        env.client, deal_id, "amendment-1", PLAN_APPROVERS[1], "reject", comment="too low"
    )
    state = await wait_state(
        env.client,
        deal_id,
        lambda s: s.amendment is not None and s.amendment.status == "rejected",
        what="rejected",
    )
    assert state.plan_version == 1 and state.plan == before.plan
    assert state.amendment is not None and state.amendment.reason == "too low"
    assert "amendment_rejected" in events(state) and "plan_amended" not in events(state)
    assert not any("amendment" in t.task_id for t in state.open_tasks)
    await notified(pool, deal_id, "amendment_rejected")
    await terminate(env, deal_id)


async def test_an_approved_scope_change_applies_only_once_the_licensee_signed(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue, decision_sla="P200D")  # spans a period
    amended = Plan(scope=NARROWER, kpis=[Kpi(target_per_period=Decimal("50000"))])
    await propose(env, deal_id, amended)

    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    state = await wait_state(
        env.client, deal_id, lambda s: open_task(s, "amendment-1-signature"), what="envelope"
    )
    signature = task(state, "amendment-1-signature")
    assert signature.kind == "signature"
    assert signature.assignees == sorted([SIGNATORY, PARTNER_CONTACT])
    assert state.plan_version == 1 and state.plan.scope.territories == ["DE", "FR"]
    assert state.amendment is not None
    assert (state.amendment.status, state.amendment.approved_by) == ("signature", "paul")
    envelope = await envelopes.for_task(pool, signature.task_id)
    assert envelope is not None and envelope["envelope_id"] == state.envelope_id
    assert sorted(envelope["signatories"]) == sorted([SIGNATORY, PARTNER_CONTACT])
    assert envelope["document"]["kind"] == "amendment"
    assert envelope["document"]["changes"] == ["scope", "kpis"]
    # what the licensee signs: the terms in force and the amended scope, hashed
    signed = envelope["document"]["signed_terms"]
    assert signed["scope"]["territories"] == NARROWER.territories
    assert signed["advance"] == "20000" and signed["minimum_guarantee_per_year"] == "60000"
    assert envelope["terms_hash"] == terms_hash(signed)

    # monitoring goes on under the plan in force while the licensee considers it
    state = await report_after_period_end(env, pool, deal_id, 3, "80000")
    assert state.periods[2].kpi_status is KpiStatus.AT_RISK  # 80,000 of the old 100,000
    assert state.plan_version == 1

    await sign(env.client, deal_id, local_id="amendment-1-signature")
    state = await wait_state(env.client, deal_id, lambda s: s.plan_version == 2, what="v2")
    assert state.plan == amended
    assert state.amendment is not None and state.amendment.status == "applied"
    assert "plan_amended" in events(state)
    assert not open_task(state, "amendment-1-signature")
    state = await report_after_period_end(env, pool, deal_id, 4, "80000")
    assert state.periods[3].kpi_status is KpiStatus.ON_TRACK  # 80,000 of the new 50,000
    await notified(pool, deal_id, "amendment_applied")
    await terminate(env, deal_id)
    await replay_and_record_runs(env.client, deal_id, {"amendment_signed": ""})


async def test_a_declined_amendment_envelope_keeps_the_plan_in_force(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue)
    await propose(env, deal_id, Plan(scope=NARROWER, kpis=plan().kpis))
    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")

    await sign(env.client, deal_id, event="declined", local_id="amendment-1-signature", reason="no")
    state = await wait_state(
        env.client,
        deal_id,
        lambda s: s.amendment is not None and s.amendment.status == "declined",
        what="declined",
    )
    assert state.plan_version == 1 and state.plan.scope.territories == ["DE", "FR"]
    assert state.amendment is not None and state.amendment.reason == "no"
    assert state.stage is Stage.MONITORING  # a declined amendment never ends the deal
    assert "plan_amended" not in events(state)
    await terminate(env, deal_id)


async def test_a_promotion_change_applies_on_approval_without_an_envelope(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue)
    promoted = plan().model_copy(update={"promotion": [Promotion(channel="tv", budget=5000)]})
    await propose(env, deal_id, promoted)
    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    state = await wait_state(env.client, deal_id, lambda s: s.plan_version == 2, what="v2")
    assert state.plan == promoted
    assert state.amendment is not None
    assert (state.amendment.changes, state.amendment.needs_signature) == (["promotion"], False)
    assert not any("amendment" in t.task_id for t in state.open_tasks)  # no envelope
    await terminate(env, deal_id)


async def test_an_undecided_amendment_is_reminded_escalated_and_lapses(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue)
    state = await propose(env, deal_id, plan(target="1"))
    due = task(state, "amendment-1").opened_at + timedelta(days=16)  # 3 x the 5-day SLA
    await skip_to(env, due)
    state = await wait_state(
        env.client,
        deal_id,
        lambda s: s.amendment is not None and s.amendment.status == "expired",
        what="expired",
    )
    assert state.plan_version == 1 and state.plan == plan()
    assert not open_task(state, "amendment-1")
    await notified(pool, deal_id, "amendment_expired")
    sent = await notifications.for_deal(pool, deal_id)
    assert {"task_reminder", "task_escalated"} <= {n["kind"] for n in sent}
    assert {n["recipient"] for n in sent if n["kind"] == "task_escalated"} == {OWNER}
    await terminate(env, deal_id)


async def test_a_signatory_who_became_a_partner_user_gets_no_amendment_envelope(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    deal_id = await reviewed(env, pool, task_queue)
    await propose(env, deal_id, Plan(scope=NARROWER, kpis=plan().kpis))
    await users.upsert(pool, SIGNATORY, roles=["partner"], partner_id="acme")
    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    state = await wait_state(
        env.client, deal_id, lambda s: open_task(s, "incident-1"), what="signatory refused"
    )
    assert state.health == "blocked" and "separation of duties" in (state.incident or "")
    assert not open_task(state, "amendment-1-signature")
    assert state.plan_version == 1
    await terminate(env, deal_id)


async def test_a_later_amendment_supersedes_a_pending_one(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env = time_worker
    request = deal_request(
        schedule=schedule(term_periods=4, periods_per_review=1, decision_sla="P200D")
    )
    deal_id = request.deal_id
    await start_deal(env.client, request, task_queue)
    await launch(env.client, deal_id)
    await report_after_period_end(env, pool, deal_id, 1, "100000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "review-1"))
    await decide_signal(
        env.client, deal_id, "review-1", OWNER, "amend", plan=Plan(scope=NARROWER, kpis=plan().kpis)
    )
    await wait_state(env.client, deal_id, lambda s: open_task(s, "amendment-1"))
    await decide_signal(env.client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    first = await wait_state(env.client, deal_id, lambda s: open_task(s, "amendment-1-signature"))

    await report_after_period_end(env, pool, deal_id, 2, "100000")
    await wait_state(env.client, deal_id, lambda s: open_task(s, "review-2"))
    await decide_signal(env.client, deal_id, "review-2", OWNER, "amend", plan=plan("90000"))
    state = await wait_state(env.client, deal_id, lambda s: open_task(s, "amendment-2"))
    assert not open_task(state, "amendment-1-signature")
    assert "amendment_superseded" in events(state)
    # a late signature of the superseded envelope changes nothing
    assert first.envelope_id
    await latest(env.client, deal_id).signal(
        LicensingDealWorkflow.signature_completed,
        SignatureEvent(
            envelope_id=first.envelope_id, event="completed", at=datetime.now(UTC), by=SIGNATORY
        ),
    )
    state = await wait_state(
        env.client, deal_id, lambda s: "signature_event_ignored" in events(s), what="ignored"
    )
    assert state.plan_version == 1
    assert state.amendment is not None
    assert (state.amendment.number, state.amendment.status) == (2, "approval")
    await terminate(env, deal_id)
    state = await latest(env.client, deal_id).query(LicensingDealWorkflow.state)
    assert state.amendment is not None and state.amendment.status == "withdrawn"


async def test_a_pending_amendment_is_carried_across_continue_as_new(
    time_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    env, client = time_worker, time_worker.client
    request = deal_request()  # three years, a review at each year end
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    await launch(client, deal_id)
    for period in range(1, 5):
        await report_after_period_end(env, pool, deal_id, period, "100000")
    await wait_state(client, deal_id, lambda s: open_task(s, "review-4"))
    amended = plan(target="80000")
    # the review at the year end: continue-as-new follows the amend decision
    await decide_then_new_run(client, deal_id, "review-4", OWNER, "amend", plan=amended)

    state = await wait_state(client, deal_id, lambda s: open_task(s, "amendment-1"))
    assert "amendment_resumed" in events(state)
    await decide_signal(client, deal_id, "amendment-1", PLAN_APPROVERS[0], "approve")
    await sign(client, deal_id, local_id="amendment-1-signature")
    state = await wait_state(client, deal_id, lambda s: s.plan_version == 2, what="v2")
    assert state.plan == amended and state.contract_year == 2
    await terminate(env, deal_id)


def test_the_direct_amendment_of_earlier_runs_is_recorded() -> None:
    """Runs from before patch `amendment-approval` replaced the plan at once; their history
    replays (`test_deal_replay` replays it) and holds that direct amendment."""
    text = (HISTORIES / "licensing_deal_direct_amend.json").read_text()
    assert '"amendment-approval"' not in text
    history = WorkflowHistory.from_json("direct_amend", text)
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals.count("decide_signal") == 2  # plan-v1 approve, review-2 amend


async def test_the_direct_amendment_history_replays_to_plan_v2() -> None:
    text = (HISTORIES / "licensing_deal_direct_amend.json").read_text()
    history = WorkflowHistory.from_json("direct-amend", text)
    result = await replayer(LicensingDealWorkflow).replay_workflow(history)
    assert result.replay_failure is None
    [completed] = [
        e.workflow_execution_completed_event_attributes
        for e in history.events
        if e.HasField("workflow_execution_completed_event_attributes")
    ]
    [outcome] = await data_converter.decode(completed.result.payloads, [DealOutcome])
    assert (outcome.stage, outcome.plan_version) == (Stage.TERMINATED, 2)
