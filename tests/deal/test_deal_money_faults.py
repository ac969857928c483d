"""Money is never lost when an activity is parked on an incident and the deal ends meanwhile:
statements, corrections and reports arriving during the final statement are all billed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
from deal_helpers import (
    OWNER,
    deal_request,
    deal_worker,
    decide_signal,
    latest,
    launch,
    line,
    open_task,
    outcome_of,
    schedule,
    skip_to,
    start_deal,
    submit_report,
    wait_state,
)
from polling import eventually
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.common import CommonActivities
from activities.deal import DealActivities
from activities.read_model import ReadModelActivities
from domain.activity_io import AuditEntry
from domain.deal_activity_io import IssueStatementInput, SalesCheckInput, SalesCheckResult
from domain.deal_messages import TerminateInput
from domain.deal_state import Stage
from domain.read_model_io import DealReadModelWrite
from licenseflow.config import Settings
from store import read_model, statements
from workflows.licensing_deal import LicensingDealWorkflow


def _broken(message: str = "numeric field overflow") -> ApplicationError:
    return ApplicationError(message, type="DataError", non_retryable=True)


async def issued(pool: asyncpg.Pool, deal_id: str) -> dict[str, tuple[str, Decimal]]:
    return {
        r["statement_id"].removeprefix(f"{deal_id}:"): (r["kind"], r["amount_due"])
        for r in await statements.for_deal(pool, deal_id)
    }


async def launched_with_p1_reported(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> str:
    """A one-year deal launched, its period 1 ended and reported at 300k; its id."""
    request = deal_request(schedule=schedule(term_periods=4, periods_per_review=8))
    await start_deal(env.client, request, task_queue)
    await launch(env.client, request.deal_id)
    state = await wait_state(env.client, request.deal_id, lambda s: bool(s.periods))
    await skip_to(env, state.periods[0].ends_at + timedelta(seconds=1))
    await submit_report(pool, env.client, request.deal_id, 1, [line("300000")])
    return request.deal_id


async def terminate_while_parked(
    env: WorkflowEnvironment, deal_id: str, broken: list[bool]
) -> None:
    """Once the deal is parked on incident-1: the owner terminates, the fault is fixed, and
    the deal ends terminated after its final accounting."""
    await wait_state(env.client, deal_id, lambda s: open_task(s, "incident-1"))
    await latest(env.client, deal_id).signal(
        LicensingDealWorkflow.terminate_signal,
        TerminateInput(requested_by=OWNER, reason="licensee gone"),
    )
    broken[0] = False
    outcome = await outcome_of(env, deal_id)
    assert outcome.stage is Stage.TERMINATED


# ---- an incident opened after the deal reached its final stage can still be retried ----


async def test_incident_in_finish_after_final_stage_can_be_retried(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [True]
    real = CommonActivities(pool)

    @activity.defn(name="record_audit")
    async def record_audit(entry: AuditEntry) -> bool:
        if entry.action == "deal.terminated" and broken[0]:
            raise _broken()
        return await real.record_audit(entry)

    async with deal_worker(env.client, pool, settings, task_queue, record_audit):
        request = deal_request(schedule=schedule(term_periods=4))
        await start_deal(env.client, request, task_queue)
        await wait_state(env.client, request.deal_id, lambda s: open_task(s, "plan-v1"))
        await latest(env.client, request.deal_id).signal(
            LicensingDealWorkflow.terminate_signal,
            TerminateInput(requested_by=OWNER, reason="brand withdrawn"),
        )
        blocked = await wait_state(
            env.client, request.deal_id, lambda s: open_task(s, "incident-1"), what="parked"
        )
        assert blocked.stage is Stage.TERMINATED  # stage already final while parked
        broken[0] = False
        await decide_signal(env.client, request.deal_id, "incident-1", OWNER, "retry")
        state = await wait_state(
            env.client,
            request.deal_id,
            lambda s: (
                not open_task(s, "incident-1")
                or any(h.event == "signal_rejected" for h in s.history)
            ),
        )
        rejected = [h.detail for h in state.history if h.event == "signal_rejected"]
        assert not rejected, f"retry refused: {rejected}"
        outcome = await outcome_of(env, request.deal_id)
        assert outcome.stage is Stage.TERMINATED


# ---- a statement parked on an incident is issued although the deal was terminated ----


async def test_statement_parked_then_terminated_is_not_lost(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [True]
    real = DealActivities(pool)

    @activity.defn(name="issue_statement")
    async def issue_statement(inp: IssueStatementInput) -> bool:
        if inp.statement.statement_id.endswith(":y1:p1") and broken[0]:
            raise _broken()
        return await real.issue_statement(inp)

    async with deal_worker(env.client, pool, settings, task_queue, issue_statement):
        deal_id = await launched_with_p1_reported(env, pool, task_queue)
        await terminate_while_parked(env, deal_id, broken)
        billed = await issued(pool, deal_id)
        # 300k earn 24,000: 4,000 over the advance must be invoiced somewhere
        assert Decimal("20000") + sum(a for _, a in billed.values()) == Decimal("24000"), billed


# ---- a correction whose check is parked survives a termination ----


async def test_correction_parked_then_terminated_is_not_lost(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [False]
    real = DealActivities(pool)

    @activity.defn(name="check_sales")
    async def check_sales(inp: SalesCheckInput) -> SalesCheckResult:
        if broken[0]:
            raise _broken()
        return await real.check_sales(inp)

    async with deal_worker(env.client, pool, settings, task_queue, check_sales):
        deal_id = await launched_with_p1_reported(env, pool, task_queue)
        await wait_state(env.client, deal_id, lambda s: s.periods[0].status == "checked")
        broken[0] = True
        await submit_report(pool, env.client, deal_id, 1, [line("500000")], version=2)
        await terminate_while_parked(env, deal_id, broken)
        billed = await issued(pool, deal_id)
        # v2: 500k earn 40,000 -> 20,000 over the advance in total (4,000 billed by v1)
        assert Decimal("20000") + sum(a for _, a in billed.values()) == Decimal("40000"), billed


# ---- a correction received while the final statement is issued is billed ----


async def test_correction_during_final_statement_is_billed(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [True]
    real = DealActivities(pool)

    @activity.defn(name="issue_statement")
    async def issue_statement(inp: IssueStatementInput) -> bool:
        if inp.statement.kind == "final" and broken[0]:
            raise _broken()
        return await real.issue_statement(inp)

    async with deal_worker(env.client, pool, settings, task_queue, issue_statement):
        deal_id = await launched_with_p1_reported(env, pool, task_queue)
        await wait_state(env.client, deal_id, lambda s: s.periods[0].status == "checked")
        await latest(env.client, deal_id).signal(
            LicensingDealWorkflow.terminate_signal,
            TerminateInput(requested_by=OWNER, reason="licensee gone"),
        )
        winding = await wait_state(env.client, deal_id, lambda s: s.stage is Stage.WINDING_DOWN)
        await skip_to(env, winding.periods[-1].report_due_at + timedelta(seconds=1))
        blocked = await wait_state(env.client, deal_id, lambda s: open_task(s, "incident-1"))
        assert blocked.stage is Stage.WINDING_DOWN  # the API still takes reports ("adjustment")
        await submit_report(pool, env.client, deal_id, 1, [line("500000")], version=2)
        await wait_state(
            env.client,
            deal_id,
            lambda s: any(h.detail == "period 1 v2" for h in s.history),
        )
        broken[0] = False
        await decide_signal(env.client, deal_id, "incident-1", OWNER, "retry")
        outcome = await outcome_of(env, deal_id)
        assert outcome.stage is Stage.TERMINATED
        billed = await issued(pool, deal_id)
        assert "y1:p1:v2" in billed, billed


# ---- a read-model write refused for good never stops the deal ----


async def test_a_read_model_write_refused_for_good_never_stops_the_deal(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    """The write that settles period 1 (a local activity) is refused as a data error: the
    deal goes on unparked, and its next write carries what the refused one held."""
    env, refused = time_env, []
    real = ReadModelActivities(pool)

    @activity.defn(name="write_deal_read_model")
    async def write_deal_read_model(write: DealReadModelWrite) -> bool:
        settles_p1 = any(p.period == 1 and p.status == "checked" for p in write.periods)
        if settles_p1 and not refused:
            refused.append(write.seq)
            raise _broken()
        return await real.write_deal_read_model(write)

    async with deal_worker(env.client, pool, settings, task_queue, write_deal_read_model):
        deal_id = await launched_with_p1_reported(env, pool, task_queue)
        state = await wait_state(env.client, deal_id, lambda s: s.periods[0].status == "checked")
        assert refused and state.health == "ok" and not state.incident
        assert "y1:p1" in await issued(pool, deal_id)
        document = await read_model.deal_document(pool, deal_id)
        assert document is not None and document["periods"][0]["status"] == "open"
        # any later change (here: a correction received) writes the delta again, period 1
        await submit_report(pool, env.client, deal_id, 1, [line("400000")], version=2)
        document = await eventually(
            lambda: read_model.deal_document(pool, deal_id),
            lambda d: d is not None and d["periods"][0]["status"] == "checked",
            what="period 1 checked in the read model",
        )
        assert document is not None
        assert document["stage"] == Stage.MONITORING.value
        await latest(env.client, deal_id).terminate("test over")
