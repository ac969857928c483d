"""Payload encryption cost on API latency: create-deal and a decision, codec on vs off.

Starts a Temporal dev server and an embedded Postgres, then two worker + API pairs on the
same server and database: one with a payload key ring (every payload AES-256-GCM sealed),
one without (plain pydantic JSON), each on its own task queue. It alternates the same calls
between the two pairs on the same run, so both see the same load, and prints p50/p95 of
each, the codec's cost (encrypted p50 - plain p50, goal <= +1 ms) and the in-process cost of
sealing and opening one deal input. Stops by itself.

    python bench/codec_cost.py [--iterations 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from licenseflow.encryption import generate_key_entry

KEYS = generate_key_entry("bench-k1")
os.environ["LICENSEFLOW_PAYLOAD_KEYS"] = KEYS  # before anything reads the settings
os.environ.pop("LICENSEFLOW_PAYLOAD_KEYS_FILE", None)

import httpx  # noqa: E402
from api_latency import (  # noqa: E402
    OWNER,
    PARTNER_PROFILE,
    PEOPLE,
    deal_body,
    free_port,
    plan_task,
    processes,
    register_property,
    stack,
    timed,
    wait_for,
)
from temporalio.client import Client  # noqa: E402

from domain.deal import DealRequest  # noqa: E402
from domain.deal_state import DealRunInput  # noqa: E402
from licenseflow.converter import data_converter_for, plain_data_converter  # noqa: E402
from licenseflow.encryption import parse_key_ring  # noqa: E402
from store import users  # noqa: E402
from store.pool import create_pool  # noqa: E402
from store.tokens import create_token  # noqa: E402

APPROVER = "carol"
MODES = ("encrypted", "plain")


@contextlib.asynccontextmanager
async def pairs() -> AsyncIterator[tuple[Client, dict[str, httpx.AsyncClient], dict[str, str]]]:
    """The stack plus an encrypted and a plain worker+API pair; yields the (encrypting)
    Temporal client, an HTTP client per mode and the owner/approver/admin tokens."""
    async with stack() as (client, address, dsn):
        pool = await create_pool(dsn, min_size=1, max_size=2)
        for user, roles, partner in PEOPLE:
            await users.ensure(pool, user, roles, partner)
        tokens = {}
        for key, user, roles in [
            ("owner", OWNER, ["owner"]),
            ("approver", APPROVER, ["approver"]),
            ("admin", "ada", ["admin"]),
        ]:
            await users.ensure(pool, user, roles, None)
            tokens[key] = await create_token(pool, user, roles, None)
        await pool.close()
        empty_data_dir = tempfile.mkdtemp(prefix="licenseflow-bench-plain-")  # no dev key file
        base = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "DATABASE_URL": dsn,
            "LICENSEFLOW_LOG_LEVEL": "WARNING",
            "LICENSEFLOW_RATE_LIMIT": "off",
        }
        envs = {
            "encrypted": {**base, "LICENSEFLOW_TASK_QUEUE": "bench-encrypted"},
            "plain": {
                **base,
                "LICENSEFLOW_TASK_QUEUE": "bench-plain",
                "LICENSEFLOW_PAYLOAD_KEYS": "",
                "LICENSEFLOW_DATA_DIR": empty_data_dir,
            },
        }
        ports = {mode: free_port() for mode in MODES}
        with (
            processes(envs["encrypted"], ports["encrypted"]),
            processes(envs["plain"], ports["plain"]),
        ):
            async with contextlib.AsyncExitStack() as stack_:
                https = {}
                for mode in MODES:
                    http = await stack_.enter_async_context(
                        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[mode]}", timeout=30)
                    )

                    async def ready(http: httpx.AsyncClient = http) -> bool:
                        return (await http.get("/readyz")).status_code == 200

                    await wait_for(ready, f"{mode} API")
                    https[mode] = http
                yield client, https, tokens


async def measure(iterations: int, warmup: int) -> None:
    async with pairs() as (client, https, tokens):
        owner = {"Authorization": f"Bearer {tokens['owner']}"}
        approver = {"Authorization": f"Bearer {tokens['approver']}"}
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        await _register_partner(https["encrypted"], admin)
        await register_property(https["encrypted"], owner)
        run_id = uuid.uuid4().hex[:6]
        create: dict[str, list[float]] = {m: [] for m in MODES}
        decide: dict[str, list[float]] = {m: [] for m in MODES}
        for i in range(warmup + iterations):
            keep = i >= warmup
            order = MODES if i % 2 == 0 else MODES[::-1]  # who goes first alternates
            ids = {m: f"{m[:3]}-{run_id}-{i}" for m in MODES}
            for mode in order:
                await timed(create[mode] if keep else [], _create(https[mode], ids[mode], owner))
            tasks = {m: await plan_task(client, ids[m]) for m in MODES}
            for mode in order:
                await timed(
                    decide[mode] if keep else [], _decide(https[mode], tasks[mode], approver)
                )
        print(f"{iterations} iterations (+{warmup} warm-up), encrypted and plain alternating")
        for name, samples in (("create-deal", create), ("decision", decide)):
            _report(name, samples["encrypted"], samples["plain"])
        await _codec_micro()


async def _register_partner(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    (await http.post("/v1/partners", json=PARTNER_PROFILE, headers=admin)).raise_for_status()


def _create(
    http: httpx.AsyncClient, deal_id: str, owner: dict[str, str]
) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        resp = await http.post("/v1/deals", json=deal_body(deal_id), headers=owner)
        assert resp.status_code == 201, resp.text

    return call


def _decide(
    http: httpx.AsyncClient, task_id: str, approver: dict[str, str]
) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        resp = await http.post(
            f"/v1/tasks/{task_id}/decision", json={"decision": "approve"}, headers=approver
        )
        assert resp.status_code == 200, resp.text

    return call


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _report(name: str, encrypted: list[float], plain: list[float]) -> None:
    e50, p50 = statistics.median(encrypted), statistics.median(plain)
    verdict = "meets" if e50 - p50 <= 1.0 else "MISSES"
    print(
        f"{name:<12} encrypted p50 {e50:7.2f} ms  p95 {_p95(encrypted):7.2f} ms | "
        f"plain p50 {p50:7.2f} ms  p95 {_p95(plain):7.2f} ms | "
        f"codec cost p50 {e50 - p50:+6.2f} ms (x{e50 / p50:.3f}; goal <= +1 ms: {verdict})"
    )


async def _codec_micro(rounds: int = 2000) -> None:
    """Sealing and opening one deal input in process (what each hop adds)."""
    request = DealRequest.model_validate({**deal_body("micro"), "owner": OWNER})
    value = DealRunInput(request=request)
    encrypted = data_converter_for(parse_key_ring(KEYS))
    timings = {}
    for name, converter in (("encrypted", encrypted), ("plain", plain_data_converter)):
        started = time.perf_counter()
        for _ in range(rounds):
            payloads = await converter.encode([value])
            await converter.decode(payloads, [DealRunInput])
        timings[name] = (time.perf_counter() - started) / rounds * 1e6
    size = len((await encrypted.encode([value]))[0].data)
    print(
        f"{'in process':<12} encode+decode of a deal input ({size} bytes sealed): "
        f"encrypted {timings['encrypted']:.0f} us, plain {timings['plain']:.0f} us, "
        f"codec {timings['encrypted'] - timings['plain']:+.0f} us"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if not 1 <= args.iterations <= 1000 or not 0 <= args.warmup <= 100:
        parser.error("--iterations must be 1..1000 and --warmup 0..100")
    asyncio.run(measure(args.iterations, args.warmup))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
