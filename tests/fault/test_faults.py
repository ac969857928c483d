"""Fault suite on the real local stack: deals with 4-second periods, a partner client that
posts every report with retries, and in turn a worker SIGKILL, a Temporal SIGKILL (restarted
on the same database), Postgres stopped in immediate mode for 20 s, and an API SIGKILL while
reports are being posted. Asserted against a ledger computed here, independently of the
code under test, from what the API acknowledged: every acknowledged report invoiced exactly
once at the right amount, no other statement, every deal completed (none failed or stuck),
one audit row per acknowledged report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import Stack
from temporalio.client import Client, WorkflowExecutionStatus

from domain.ids import partner_approval_id
from licenseflow.converter import data_converter
from store import audit, statements, users
from store.migrate import apply_migrations
from store.pool import create_pool
from store.tokens import create_token
from workflows.licensing_deal import LicensingDealWorkflow

pytestmark = [pytest.mark.fault, pytest.mark.timeout(420)]

DEALS = 4
PERIOD_S = 4
TERM = 8  # two contract years of 4 periods
NET = Decimal("100000")
ADVANCE, MG = Decimal("20000"), Decimal("60000")
RETRYABLE = {502, 503, 504}


def reference_statements(periods: int, per_year: int) -> dict[str, Decimal]:
    """The statements the terms call for, computed from first principles: tiers 8% up to
    500k then 10% on contract-year-to-date net sales, advance 20k paid at signing and
    credited to year 1, minimum guarantee 60k per year settled by a year-end true-up; the
    final statement after final accounting owes nothing more."""
    expected: dict[str, Decimal] = {}
    for year in range(1, periods // per_year + 1):
        ytd, billed = Decimal(0), ADVANCE if year == 1 else Decimal(0)
        for n in range((year - 1) * per_year + 1, year * per_year + 1):
            ytd += NET
            earned = min(ytd, Decimal(500000)) * Decimal("0.08") + max(
                Decimal(0), ytd - 500000
            ) * Decimal("0.10")
            owed = max(earned, ADVANCE if year == 1 else Decimal(0))
            expected[f"y{year}:p{n}"] = max(Decimal(0), owed - billed)
            billed = max(billed, owed)
        expected[f"y{year}:true-up"] = max(Decimal(0), MG - billed)
    expected["final"] = Decimal(0)  # at expiry every year is settled already
    return expected


class Client_:
    """The partner/owner side: every call retried until the API acknowledges it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.retries = 0

    async def call(
        self, method: str, path: str, token: str, body: Any = None, *, done: set[int] = frozenset()
    ) -> httpx.Response:
        deadline = time.monotonic() + 120
        while True:
            try:
                resp = await self.http.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                if resp.status_code < 400 or resp.status_code in done:
                    return resp
                if resp.status_code not in RETRYABLE:
                    raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text}")
            except (httpx.TransportError, httpx.TimeoutException):
                pass  # the API is down or restarting
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} never acknowledged")
            self.retries += 1
            await asyncio.sleep(0.3)


async def until(probe: Callable[[], Awaitable[Any]], what: str, within: float = 90) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if found := await probe():
                return found
        except (httpx.TransportError, httpx.TimeoutException):
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {within}s")


async def test_no_fault_loses_freezes_or_fails_a_deal(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.postgres.start()
    await apply_migrations(stack.postgres.dsn)
    pool = await create_pool(stack.postgres.dsn)
    tokens: dict[str, str] = {}
    for user, roles, partner in [
        ("admin", ["admin"], None),
        ("olivia", ["owner"], None),
        ("bob", ["approver"], None),
        ("carol", ["approver"], None),
        ("alice", ["approver"], None),
        ("acme-ops", ["partner"], "acme"),
    ]:
        await users.ensure(pool, user, roles, partner)
        tokens[user] = await create_token(pool, user, roles, partner)
    acked: dict[str, set[int]] = {}
    faults: list[str] = []
    try:
        stack.start()
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as http:
            api = Client_(http)
            await launch_all(api, tokens)
            started = time.monotonic()
            launched = {
                deal_id: datetime.fromisoformat(
                    (await api.call("GET", f"/v1/deals/{deal_id}", tokens["olivia"])).json()[
                        "launched_at"
                    ]
                )
                for deal_id in deal_ids()
            }
            await asyncio.gather(
                *(report_all(api, tokens, d, t, acked) for d, t in launched.items()),
                renew_none(api, tokens, launched),
                inject_faults(stack, started, faults),
            )
            client = await temporal(stack)
            await until(lambda: all_done(client), "every deal completed", within=150)
        await check_ledger(stack, pool, acked, faults, api.retries)
    finally:
        await pool.close()
        stack.stop()


def deal_ids() -> list[str]:
    return [f"fault-{n}" for n in range(DEALS)]


async def launch_all(api: Client_, tokens: dict[str, str]) -> None:
    await api.call(
        "POST",
        "/v1/partners",
        tokens["admin"],
        {
            "partner_id": "acme",
            "name": "Acme",
            "contact_user": "acme-ops",
            "email": "ops@acme.example",
            "scope": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
            "evaluation": {"cost": 4, "quality": 4, "efficiency": 4, "complementarity": 4},
            "risk": {"insurance_coverage": 2000000, "flags": []},
        },
        done={409},
    )
    await api.call(  # the same body again answers 200: a retried POST is fine
        "POST",
        "/v1/properties",
        tokens["olivia"],
        {
            "property_id": "moon-bear",
            "name": "Moon Bear",
            "rights": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
            "available_from": "2020-01-01T00:00:00Z",
        },
    )
    for deal_id in deal_ids():
        await api.call("POST", "/v1/deals", tokens["olivia"], deal_body(deal_id))
    for deal_id in deal_ids():
        await decide_when_open(api, tokens["bob"], f"deal-{deal_id}:plan-v1", "approve")
        await decide_when_open(
            api, tokens["carol"], f"{partner_approval_id(deal_id, 'acme')}:commercial-v1", "approve"
        )
        for user in ("alice", "acme-ops"):
            await decide_when_open(api, tokens[user], f"deal-{deal_id}:signature-1", "sign")
    for deal_id in deal_ids():
        await until(lambda d=deal_id: launched_yet(api, tokens["olivia"], d), f"{deal_id} launched")


async def launched_yet(api: Client_, token: str, deal_id: str) -> bool:
    state = (await api.call("GET", f"/v1/deals/{deal_id}", token)).json()
    return state["launched_at"] is not None


async def decide_when_open(api: Client_, token: str, task_id: str, decision: str) -> None:
    async def task_open() -> bool:
        inbox = (await api.call("GET", "/v1/tasks", token)).json()
        return any(t["task_id"] == task_id for t in inbox)

    await until(task_open, f"task {task_id} open")
    # a retry whose first attempt was applied finds the task closed: 409 means done
    await api.call(
        "POST", f"/v1/tasks/{task_id}/decision", token, {"decision": decision}, done={409}
    )


def deal_body(deal_id: str) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "title": f"Fault deal {deal_id}",
        "property": {"name": "Moon Bear", "rights": ["brand"]},
        "property_id": "moon-bear",  # non-exclusive scope: the four deals share DE
        "needs": {
            "objectives": [{"kind": "revenue", "target": 800000, "unit": "EUR"}],
            "audience": {"segments": ["18-34"], "regions": ["DE"]},
        },
        "plan": {
            "scope": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
            "kpis": [{"metric": "net_sales", "target_per_period": 100000}],
        },
        "terms": {
            "currency": "EUR",
            "royalty_tiers": [{"up_to": 500000, "rate": 0.08}, {"up_to": None, "rate": 0.10}],
            "advance": str(ADVANCE),
            "minimum_guarantee_per_year": str(MG),
        },
        "schedule": {
            "period": f"PT{PERIOD_S}S",
            "periods_per_year": 4,
            "periods_per_review": 100,
            "term_periods": TERM,
            "report_grace": "PT30S",
            "decision_sla": "PT2M",
        },
        "partners": ["acme"],
        "plan_approvers": ["bob"],
        "partner_approval_chain": [{"step": "commercial", "approvers": ["carol"]}],
        "licensor_signatory": "alice",
    }


async def report_all(
    api: Client_,
    tokens: dict[str, str],
    deal_id: str,
    launched: datetime,
    acked: dict[str, set[int]],
) -> None:
    """Each period's report shortly before the period ends, retried until acknowledged."""
    line = {
        "sku": "MB-1",
        "category": "apparel",
        "territory": "DE",
        "channel": "online",
        "units": 100,
        "gross_sales": str(NET),
        "deductions": "0",
    }
    for period in range(1, TERM + 1):
        due = launched.timestamp() + period * PERIOD_S - 1
        await asyncio.sleep(max(0.0, due - time.time()))
        await api.call(
            "POST",
            f"/v1/deals/{deal_id}/sales-reports",
            tokens["acme-ops"],
            {"period": period, "lines": [line]},
        )
        acked.setdefault(deal_id, set()).add(period)


async def renew_none(api: Client_, tokens: dict[str, str], launched: dict[str, datetime]) -> None:
    """The owner lets each deal expire when its renewal decision opens."""
    for deal_id in launched:
        await decide_when_open(api, tokens["olivia"], f"deal-{deal_id}:renewal-2", "expire")


async def inject_faults(stack: Stack, started: float, faults: list[str]) -> None:
    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))

    await at(3)
    stack.worker.kill()
    await asyncio.sleep(1)
    stack.worker.start()
    faults.append("worker SIGKILL + restart")
    await at(7)  # reports of every deal are being posted about once a second
    stack.api.kill()
    await asyncio.sleep(1)
    stack.api.start()
    faults.append("API SIGKILL while reports are posted + restart")
    await at(11)
    await asyncio.to_thread(stack.restart_temporal)
    faults.append("Temporal dev server SIGKILL + restart on the same database")
    await at(16)  # the second half of the term's reports and checks meet the outage
    await asyncio.to_thread(stack.postgres.stop_immediate)
    await asyncio.sleep(20)
    await asyncio.to_thread(stack.postgres.restart)
    faults.append("Postgres stopped (immediate) for 20 s + restarted")


async def temporal(stack: Stack) -> Client:
    return await Client.connect(stack.temporal_address, data_converter=data_converter)


async def all_done(client: Client) -> bool:
    try:
        for deal_id in deal_ids():
            description = await client.get_workflow_handle(f"deal-{deal_id}").describe()
            if description.status != WorkflowExecutionStatus.COMPLETED:
                if description.status != WorkflowExecutionStatus.RUNNING:
                    raise AssertionError(f"{deal_id} ended {description.status}")
                return False
        return True
    except RuntimeError:
        return False  # Temporal restarting


async def check_ledger(
    stack: Stack, pool: Any, acked: dict[str, set[int]], faults: list[str], retries: int
) -> None:
    expected = reference_statements(TERM, 4)
    client = await temporal(stack)
    invoiced = 0
    for deal_id in deal_ids():
        handle = client.get_workflow_handle_for(LicensingDealWorkflow.run, f"deal-{deal_id}")
        outcome = await handle.result()
        assert outcome.stage == "completed", (deal_id, outcome)
        assert acked[deal_id] == set(range(1, TERM + 1)), (deal_id, acked[deal_id])
        rows = {
            r["statement_id"]: r["amount_due"] for r in await statements.for_deal(pool, deal_id)
        }
        assert rows == {f"{deal_id}:{k}": v for k, v in expected.items()}, deal_id
        invoiced += sum(1 for k in rows if ":p" in k)
        actions = [r["action"] for r in await audit.for_deal(pool, deal_id)]
        assert actions.count("sales_report.submit") == TERM, (deal_id, actions)
        assert actions.count("deal.create") == 1
    not_completed = [
        w.id
        async for w in client.list_workflows(f'TaskQueue="{stack.task_queue}"')
        if w.status
        not in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.CONTINUED_AS_NEW)
    ]
    assert not_completed == [], not_completed
    reports = sum(len(periods) for periods in acked.values())
    print(
        f"\nfault suite: {len(faults)} faults survived ({'; '.join(faults)}); "
        f"{reports} reports acknowledged, {invoiced} invoiced, lost 0; "
        f"{retries} client retries"
    )
    assert len(faults) == 4 and invoiced == reports == DEALS * TERM
