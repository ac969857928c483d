"""A final activity failure parks the deal (never FAILED, never silently stuck): ops see it
blocked with the error and decide `retry` (after a fix) or `terminate`."""

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

from activities.deal import DealActivities
from domain.deal_activity_io import IssueStatementInput, SalesCheckInput, SalesCheckResult
from domain.deal_messages import TerminateInput
from domain.deal_state import Stage
from licenseflow.config import Settings
from store import statements
from workflows.licensing_deal import LicensingDealWorkflow


def failing_check(pool: asyncpg.Pool, broken: list[bool]) -> object:
    """The real sales check, failing for good while `broken[0]` holds."""
    real = DealActivities(pool)

    @activity.defn(name="check_sales")
    async def check_sales(inp: SalesCheckInput) -> SalesCheckResult:
        if broken[0]:
            raise ApplicationError(
                "NumericValueOutOfRangeError: numeric field overflow",
                type="DataError",
                non_retryable=True,
            )
        return await real.check_sales(inp)

    return check_sales


async def _blocked_deal(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> tuple[str, object]:
    request = deal_request(schedule=schedule(term_periods=4))
    await start_deal(env.client, request, task_queue)
    state = await launch(env.client, request.deal_id)
    state = await wait_state(env.client, request.deal_id, lambda s: bool(s.periods))
    await skip_to(env, state.periods[0].ends_at + timedelta(seconds=1))
    await submit_report(pool, env.client, request.deal_id, 1, [line("300000")])
    # parked: blocked, and its incident task open (the responders are looked up in between)
    blocked = await wait_state(
        env.client,
        request.deal_id,
        lambda s: s.health == "blocked" and any(t.kind == "incident" for t in s.open_tasks),
        what="deal parked",
    )
    return request.deal_id, blocked


async def test_a_data_error_parks_the_deal_and_retry_resumes_it(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [True]
    async with deal_worker(env.client, pool, settings, task_queue, failing_check(pool, broken)):
        deal_id, blocked = await _blocked_deal(env, pool, task_queue)
        assert blocked.stage is Stage.MONITORING  # parked, not failed
        assert "check_sales: DataError: NumericValueOutOfRangeError" in (blocked.incident or "")
        [task] = [t for t in blocked.open_tasks if t.kind == "incident"]
        # no ops or admin user exists in this database: the owner gets the incident
        assert (task.assignees, task.allowed_decisions) == ([OWNER], ["retry", "terminate"])
        # a day later the deal still waits, reminded and escalated, never expired
        await skip_to(env, blocked.periods[0].report_due_at + timedelta(days=20))
        still = await wait_state(env.client, deal_id, lambda s: open_task(s, "incident-1"))
        assert still.health == "blocked"

        broken[0] = False  # the data (or code) is fixed
        await decide_signal(env.client, deal_id, "incident-1", OWNER, "retry")
        state = await wait_state(
            env.client, deal_id, lambda s: s.periods[0].status == "checked", what="retried"
        )
        assert (state.health, state.incident) == ("ok", None)
        issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
        # 300,000 x 8% = 24,000 earned, less the 20,000 advance
        assert issued[f"{deal_id}:y1:p1"]["amount_due"] == Decimal("4000.00")
        await latest(env.client, deal_id).terminate("test over")


async def test_terminate_on_an_incident_ends_the_deal_with_its_final_statement(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    env, broken = time_env, [True]
    async with deal_worker(env.client, pool, settings, task_queue, failing_check(pool, broken)):
        deal_id, _ = await _blocked_deal(env, pool, task_queue)
        broken[0] = False
        await decide_signal(
            env.client, deal_id, "incident-1", OWNER, "terminate", comment="licensee gone"
        )
        # final accounting checks period 1 again: with the data fixed it completes (broken
        # for good, it would park again, offering retry)
        outcome = await outcome_of(env, deal_id)
        assert (outcome.stage, outcome.reason) == (Stage.TERMINATED, "licensee gone")
        issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
        assert f"{deal_id}:final" in issued


async def test_a_two_hour_outage_delays_the_deal_and_it_completes_correctly(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    """Transient failures retry without an attempt cap: Postgres "down" for two hours of
    workflow time (about 240 attempts at the 30 s backoff cap) only delays the invoices."""
    env = time_env
    real = DealActivities(pool)
    outage: dict[str, object] = {}
    attempts: list[int] = []
    served: list[int] = []

    @activity.defn(name="check_sales")
    async def check_sales(inp: SalesCheckInput) -> SalesCheckResult:
        now = await env.get_current_time()
        started = outage.setdefault("from", now)
        assert isinstance(started, type(now))
        if now - started < timedelta(hours=2):
            attempts.append(activity.info().attempt)
            raise ConnectionRefusedError("postgres is down")
        served.append(activity.info().attempt)
        return await real.check_sales(inp)

    request = deal_request(schedule=schedule(term_periods=4))
    deal_id = request.deal_id
    async with deal_worker(env.client, pool, settings, task_queue, check_sales):
        await start_deal(env.client, request, task_queue)
        state = await launch(env.client, deal_id)
        state = await wait_state(env.client, deal_id, lambda s: bool(s.periods))
        await skip_to(env, state.periods[0].ends_at + timedelta(seconds=1))
        await submit_report(pool, env.client, deal_id, 1, [line("300000")])
        await eventually(lambda: _value(len(attempts)), bool, what="first failed attempt")
        # The test server does not skip time while a retry is pending: step it over each
        # 30 s backoff until the outage (2 h of workflow time) is over.
        while not served:
            before = len(attempts)
            await env.sleep(timedelta(seconds=31))
            await eventually(
                lambda before=before: _value(len(attempts) > before or bool(served)),
                bool,
                within=10,
                interval=0.01,
                what="next attempt",
            )
        state = await wait_state(
            env.client,
            deal_id,
            lambda s: s.periods[0].status == "checked",
            what="period 1 checked after the outage",
        )
    assert max(attempts) > 200, "retried through the whole outage: no attempt cap"
    assert state.health == "ok" and state.stage is Stage.MONITORING
    issued = {r["statement_id"]: r for r in await statements.for_deal(pool, deal_id)}
    assert issued[f"{deal_id}:y1:p1"]["amount_due"] == Decimal("4000.00")
    await latest(env.client, deal_id).terminate("test over")


async def _value(value: object) -> object:
    return value


async def test_an_incident_during_the_termination_can_still_be_retried(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
    cleanup: None,
) -> None:
    """The final statement fails for good while the deal terminates: its incident offers
    retry, and the retry is accepted although a termination is under way."""
    env, broken = time_env, [True]
    real = DealActivities(pool)

    @activity.defn(name="issue_statement")
    async def issue_statement(inp: IssueStatementInput) -> bool:
        if inp.statement.kind == "final" and broken[0]:
            raise ApplicationError("numeric field overflow", type="DataError", non_retryable=True)
        return await real.issue_statement(inp)

    async with deal_worker(env.client, pool, settings, task_queue, issue_statement):
        request = deal_request(schedule=schedule(term_periods=4))
        await start_deal(env.client, request, task_queue)
        await launch(env.client, request.deal_id)
        await latest(env.client, request.deal_id).signal(
            LicensingDealWorkflow.terminate_signal,
            TerminateInput(requested_by=OWNER, reason="brand withdrawn"),
        )
        # the final statement comes after final accounting (period 1 cut short, its due date)
        winding = await wait_state(
            env.client, request.deal_id, lambda s: s.stage is Stage.WINDING_DOWN
        )
        await skip_to(env, winding.periods[-1].report_due_at + timedelta(seconds=1))
        blocked = await wait_state(
            env.client, request.deal_id, lambda s: open_task(s, "incident-1"), what="parked"
        )
        [task] = [t for t in blocked.open_tasks if t.kind == "incident"]
        assert task.allowed_decisions == ["retry"]
        broken[0] = False
        await decide_signal(env.client, request.deal_id, "incident-1", OWNER, "retry")
        outcome = await latest(env.client, request.deal_id).result()
        assert outcome.stage is Stage.TERMINATED
        issued = {r["statement_id"] for r in await statements.for_deal(pool, request.deal_id)}
        assert f"{request.deal_id}:final" in issued
