"""LicensingDeal on the dev server: Updates with validators, search attributes, child
approval through its Update, partner re-selection, signature decline (cancel or resend),
worker restart."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from deal_helpers import (
    OWNER,
    PARTNER_CONTACT,
    PLAN_APPROVERS,
    SIGNATORY,
    approve_child,
    deal_request,
    deal_worker,
    line,
    open_task,
    outcome_of,
    plan,
    replay_and_record_runs,
    schedule,
    seed_partner,
    sign,
    start_deal,
    submit_report,
    wait_state,
)
from deal_helpers import (
    decide_update as decide,
)
from polling import eventually
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import refusal, refused_field

from api.esign import SigningEvent, apply_signing_event
from domain import errors
from domain.deal import Audience, Needs, Objective, Schedule
from domain.deal_messages import (
    AddPartnersInput,
    RevisePlanInput,
    SubmitNeedsInput,
    TerminateInput,
)
from domain.deal_state import Stage
from domain.tasks import TaskKind
from licenseflow.config import Settings
from store import deals, statements
from workflows.licensing_deal import LicensingDealWorkflow


def described(error: ApplicationError) -> tuple[str | None, str | None]:
    """A refusal's type and the input field it names."""
    return error.type, refused_field(error)


async def visible(client: Client, query: str, workflow_id: str) -> bool:
    """Poll visibility (eventually consistent) until `workflow_id` matches `query`."""

    async def matching() -> list[str]:
        return [w.id async for w in client.list_workflows(query) if w.id == workflow_id]

    return bool(await eventually(matching, bool, within=20, interval=0.2))


NEEDS = Needs(
    objectives=[Objective(kind="brand_awareness", target=Decimal("1000000"), unit="reach")],
    audience=Audience(segments=["families"], regions=["DE"]),
)


async def test_updates_validate_and_drive_the_deal_with_search_attributes(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    client = dev_worker.client
    request = deal_request(needs=None, schedule=Schedule(period="P1M", term_periods=12))
    deal_id = request.deal_id
    handle = await start_deal(client, request, task_queue)

    await wait_state(client, deal_id, lambda s: open_task(s, "needs"), what="needs task")
    submit = LicensingDealWorkflow.submit_needs
    assert (
        await refusal(
            handle.execute_update(submit, SubmitNeedsInput(submitted_by="mallory", needs=NEEDS))
        )
    ).type == errors.FORBIDDEN
    doubled = NEEDS.model_copy(update={"objectives": NEEDS.objectives * 2})
    assert (
        await refusal(
            handle.execute_update(submit, SubmitNeedsInput(submitted_by=OWNER, needs=doubled))
        )
    ).type == errors.INVALID
    state = await handle.execute_update(submit, SubmitNeedsInput(submitted_by=OWNER, needs=NEEDS))
    assert state.stage is Stage.PLANNING
    assert (
        await refusal(
            handle.execute_update(submit, SubmitNeedsInput(submitted_by=OWNER, needs=NEEDS))
        )
    ).type == errors.CONFLICT

    state = await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    assert await visible(client, f'PendingApprovers = "{PLAN_APPROVERS[1]}"', handle.id)
    assert (
        await refusal(decide(client, deal_id, "plan-v1", OWNER, "approve"))
    ).type == errors.FORBIDDEN
    assert (
        await refusal(decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "reject"))
    ).type == errors.INVALID
    assert (
        await refusal(decide(client, deal_id, "plan-v9", OWNER, "approve"))
    ).type == errors.NOT_FOUND
    await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "reject", comment="KPIs too low")

    state = await wait_state(client, deal_id, lambda s: open_task(s, "revise-v1"))
    revise = LicensingDealWorkflow.revise_plan
    assert (
        await refusal(
            handle.execute_update(
                revise, RevisePlanInput(submitted_by="mallory", plan=plan("150000"))
            )
        )
    ).type == errors.FORBIDDEN
    state = await handle.execute_update(
        revise, RevisePlanInput(submitted_by=OWNER, plan=plan("150000"), comment="raised")
    )
    assert state.plan_version == 2 and open_task(state, "plan-v2")
    assert (
        await refusal(decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve"))
    ).type == errors.CONFLICT
    state = await decide(client, deal_id, "plan-v2", PLAN_APPROVERS[1], "approve")
    assert state.stage is Stage.IMPLEMENTATION

    await approve_child(client, deal_id)
    await sign(client, deal_id)
    state = await wait_state(client, deal_id, lambda s: s.stage is Stage.MONITORING)
    assert state.plan.kpis[0].target_per_period == Decimal("150000")
    assert await visible(client, f'DealStage = "monitoring" AND DealOwner = "{OWNER}"', handle.id)
    assert await visible(
        client, 'LicensingPartner = "acme" AND KpiStatus = "not_started"', handle.id
    )
    assert (await deals.get(pool, deal_id))["stage"] == "monitoring"

    terminate = LicensingDealWorkflow.terminate
    assert (
        await refusal(
            handle.execute_update(terminate, TerminateInput(requested_by="mallory", reason="x"))
        )
    ).type == errors.FORBIDDEN
    state = await handle.execute_update(
        terminate, TerminateInput(requested_by=OWNER, reason="licensor exits the category")
    )
    # launched: the termination takes effect at once, final accounting follows
    assert state.stage is Stage.WINDING_DOWN
    assert [p.kind for p in state.periods] == ["partial"]
    assert (
        await refusal(
            handle.execute_update(terminate, TerminateInput(requested_by=OWNER, reason="again"))
        )
    ).type == errors.CONFLICT
    assert await visible(client, 'DealStage = "winding_down"', handle.id)
    await replay_and_record_runs(client, deal_id, {"updates_terminate": handle.result_run_id or ""})


async def test_rejected_partner_then_added_partner_then_declined_signature_cancels(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    client = dev_worker.client
    await seed_partner(pool, "thinco", risk={"insurance_coverage": Decimal("10")})
    request = deal_request(partners=["thinco"], schedule=Schedule(period="P1M", term_periods=12))
    deal_id = request.deal_id
    handle = await start_deal(client, request, task_queue)
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")

    state = await wait_state(
        client, deal_id, lambda s: open_task(s, "partner-selection-1"), what="selection task"
    )
    assert "partner_rejected" in [h.event for h in state.history]
    state = await handle.execute_update(
        LicensingDealWorkflow.add_partners, AddPartnersInput(submitted_by=OWNER, partners=["acme"])
    )
    assert not open_task(state, "partner-selection-1")
    await approve_child(client, deal_id)
    await sign(client, deal_id, event="declined", reason="royalty rate too high")

    state = await wait_state(client, deal_id, lambda s: open_task(s, "signature-declined-1"))
    task = next(t for t in state.open_tasks if t.task_id.endswith(":signature-declined-1"))
    assert (task.kind, task.assignees, task.allowed_decisions) == (
        TaskKind.SIGNATURE_DECISION,
        [OWNER],
        ["resend", "cancel"],
    )
    assert "royalty rate too high" in task.title
    assert ("signature_declined", "royalty rate too high") in [
        (e.event, e.detail) for e in task.history
    ]
    task_id = "signature-declined-1"
    forbidden = decide(client, deal_id, task_id, PLAN_APPROVERS[0], "cancel")
    assert described(await refusal(forbidden)) == (errors.FORBIDDEN, None)
    assert described(await refusal(decide(client, deal_id, task_id, OWNER, "approve"))) == (
        errors.INVALID,
        "decision",
    )
    state = await decide(client, deal_id, task_id, OWNER, "cancel", comment="partner walked away")
    assert state.stage is Stage.CANCELLED

    outcome = await outcome_of(dev_worker, deal_id)
    assert outcome.stage is Stage.CANCELLED and outcome.partner_id == "acme"
    assert "declined" in (outcome.reason or "")
    assert "royalty rate too high" in (outcome.reason or "")
    assert "partner walked away" in (outcome.reason or "")


async def signing_event(
    pool: asyncpg.Pool, client: Client, envelope_id: str, event: str, by: str
) -> None:
    """An e-signature event on the envelope, through the same path as the provider webhook."""
    await apply_signing_event(
        pool,
        client,
        SigningEvent(
            envelope_id=envelope_id,
            event_id=f"test:{envelope_id}:{by}:{event}",
            event=event,
            at=datetime.now(UTC),
            by=by,
            reason="wrong territory" if event == "recipient-declined" else None,
            source="local",
        ),
    )


async def test_declined_signature_resent_then_signed_launches(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    client = dev_worker.client
    request = deal_request(schedule=Schedule(period="P1M", term_periods=12))
    deal_id = request.deal_id
    handle = await start_deal(client, request, task_queue)
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await approve_child(client, deal_id)

    first = await wait_state(client, deal_id, lambda s: open_task(s, "signature-1"))
    assert first.envelope_id
    await signing_event(pool, client, first.envelope_id, "recipient-declined", PARTNER_CONTACT)
    await wait_state(client, deal_id, lambda s: open_task(s, "signature-declined-1"))
    state = await decide(
        client, deal_id, "signature-declined-1", OWNER, "resend", comment="territory fixed"
    )
    assert state.stage is Stage.IMPLEMENTATION

    second = await wait_state(client, deal_id, lambda s: open_task(s, "signature-2"))
    assert second.envelope_id and second.envelope_id != first.envelope_id
    for signer in (SIGNATORY, PARTNER_CONTACT):
        await signing_event(pool, client, second.envelope_id, "recipient-completed", signer)
    state = await wait_state(client, deal_id, lambda s: s.stage is Stage.MONITORING)
    assert state.launched_at is not None and not state.open_tasks
    assert "signature_resent" in [h.event for h in state.history]

    rows = await pool.fetch(
        "SELECT envelope_id, idempotency_key, status FROM signature_envelopes"
        " WHERE deal_id = $1 ORDER BY created_at",
        deal_id,
    )
    assert [(r["envelope_id"], r["status"]) for r in rows] == [
        (first.envelope_id, "declined"),
        (second.envelope_id, "completed"),
    ]
    assert [r["idempotency_key"].rsplit(":", 1)[1] for r in rows] == ["signature-1", "signature-2"]
    await handle.execute_update(
        LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="test done")
    )
    run_id = handle.result_run_id or ""
    await replay_and_record_runs(client, deal_id, {"signature_resend": run_id})


async def test_worker_restart_mid_cycle_loses_nothing(
    dev_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    client = dev_env.client
    seconds = schedule(period="PT3S", term_periods=4, report_grace="PT3S", decision_sla="PT30S")
    request = deal_request(schedule=seconds)
    deal_id = request.deal_id
    async with deal_worker(client, pool, settings, task_queue):
        handle = await start_deal(client, request, task_queue)
        await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
        await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
        await approve_child(client, deal_id)
        await sign(client, deal_id)
        await submit_report(pool, client, deal_id, 1, [line("300000")])
        await wait_state(
            client,
            deal_id,
            lambda s: s.periods and s.periods[0].status == "checked",
            what="period 1 checked",
        )
    # no worker: period 2 runs on, its report arrives and waits in the workflow's history
    await submit_report(pool, client, deal_id, 2, [line("100000")])
    async with deal_worker(client, pool, settings, task_queue):
        state = await wait_state(
            client,
            deal_id,
            lambda s: len(s.periods) >= 2 and s.periods[1].status == "checked",
            what="period 2 checked after restart",
        )
        await handle.execute_update(
            LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="done")
        )
    assert [p.net_sales for p in state.periods[:2]] == [Decimal("300000"), Decimal("100000")]
    rows = {r["statement_id"]: r["amount_due"] for r in await statements.for_deal(pool, deal_id)}
    assert rows[f"{deal_id}:y1:p1"] == Decimal("4000")
    assert rows[f"{deal_id}:y1:p2"] == Decimal("8000")
