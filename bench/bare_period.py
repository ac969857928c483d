"""The bare-SDK equivalent of a deal's reporting period, for `bench/month_end.py`.

`BarePeriod` waits on a timer until the period boundary, then runs the same steps a real
deal ran for its period (the bench reads them from real histories: the activities in order
and the timers between them, e.g. the reminder and the due date of a missing report), each
activity doing the equivalent Postgres work on `bare_*` tables: `check` reads the report
(and marks the read-model row missing when there is none), `statement` inserts a
statement-like row and updates the read-model row in one transaction, `insert` appends an
outbox row, `sync` updates the read-model row. Then it waits on the next period's timer,
like a deal. A `report` signal stands for the sales-report signal.

Dataclass inputs, the SDK's default data converter (no codec, no pydantic) and the default
sandbox: what a team would write with the bare SDK. Run as a worker process:

    python bench/bare_period.py --address 127.0.0.1:7233 --dsn postgresql://... --task-queue q
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import asyncpg

ACTIVITY_KINDS = ("check", "statement", "insert", "sync")
"""What a bare activity does (see the module docstring)."""
REAL_TO_BARE = {
    "check_sales": "check",
    "issue_statement": "statement",
    "send_notification": "insert",
    "record_audit": "insert",
    "sync_deal_read_model": "sync",
}
"""The bare step standing for each activity type of the real deal (others: `check`)."""

TABLES = """
CREATE TABLE IF NOT EXISTS bare_deals (
    deal_id text PRIMARY KEY, stage text NOT NULL, kpi_status text,
    next_period integer NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_reports (
    deal_id text NOT NULL, period integer NOT NULL, lines jsonb NOT NULL,
    PRIMARY KEY (deal_id, period));
CREATE TABLE IF NOT EXISTS bare_statements (
    statement_id text PRIMARY KEY, deal_id text NOT NULL, period integer NOT NULL,
    net_sales numeric(18, 2) NOT NULL, amount_due numeric(18, 2) NOT NULL,
    issued_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bare_outbox (
    key text PRIMARY KEY, deal_id text NOT NULL, kind text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
"""


@dataclass
class BareStep:
    kind: str
    """`timer` or one of ACTIVITY_KINDS."""
    until: float = 0.0
    """For a timer: seconds after the boundary it fires."""


@dataclass
class BareInput:
    deal_id: str
    boundary: float
    """The period's end, epoch seconds."""
    steps: list[BareStep] = field(default_factory=list)
    next_wait: float = 30 * 86400.0
    """Seconds waited after the steps (the next period's timer)."""


@dataclass
class BareReport:
    report_id: str
    period: int
    net_sales: float


@dataclass
class BareCall:
    deal_id: str
    period: int
    step: int
    net_sales: float | None = None


class BareActivities:
    """Postgres work of the bare steps, on one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="bare_check")
    async def check(self, call: BareCall) -> float | None:
        """Net sales of the stored report; none: the read-model row is marked missing."""
        net = await self._pool.fetchval(
            "SELECT sum((l->>'gross_sales')::numeric - (l->>'deductions')::numeric)"
            " FROM bare_reports r, jsonb_array_elements(r.lines) l"
            " WHERE r.deal_id = $1 AND r.period = $2",
            call.deal_id,
            call.period,
        )
        if net is None:
            await self._pool.execute(
                "UPDATE bare_deals SET kpi_status = 'missing', updated_at = now()"
                " WHERE deal_id = $1",
                call.deal_id,
            )
            return None
        return float(net)

    @activity.defn(name="bare_statement")
    async def statement(self, call: BareCall) -> bool:
        """Insert a statement-like row and move the read-model row, in one transaction."""
        net = call.net_sales or 0.0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO bare_statements (statement_id, deal_id, period, net_sales,"
                " amount_due) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                f"{call.deal_id}:p{call.period}",
                call.deal_id,
                call.period,
                round(net, 2),
                round(net * 0.08, 2),
            )
            await conn.execute(
                "UPDATE bare_deals SET kpi_status = 'on_track', next_period = $2,"
                " updated_at = now() WHERE deal_id = $1",
                call.deal_id,
                call.period + 1,
            )
        return True

    @activity.defn(name="bare_insert")
    async def insert(self, call: BareCall) -> bool:
        """An outbox (or audit) row, once per key."""
        await self._pool.execute(
            "INSERT INTO bare_outbox (key, deal_id, kind) VALUES ($1, $2, 'reminder')"
            " ON CONFLICT DO NOTHING",
            f"{call.deal_id}:{call.period}:{call.step}",
            call.deal_id,
        )
        return True

    @activity.defn(name="bare_sync")
    async def sync(self, call: BareCall) -> bool:
        """Move the read-model row."""
        await self._pool.execute(
            "UPDATE bare_deals SET updated_at = now() WHERE deal_id = $1", call.deal_id
        )
        return True


@workflow.defn(name="BarePeriod")
class BarePeriod:
    """One period of one deal: timer to the boundary, the steps, the next period's timer."""

    def __init__(self) -> None:
        self._reports: list[BareReport] = []

    @workflow.signal
    def report(self, report: BareReport) -> None:
        self._reports.append(report)

    @workflow.run
    async def run(self, inp: BareInput) -> None:
        boundary = inp.boundary
        await self._sleep_until(boundary)
        net: float | None = None
        for index, step in enumerate(inp.steps):
            if step.kind == "timer":
                await self._sleep_until(boundary + step.until)
                continue
            call = BareCall(inp.deal_id, period=1, step=index, net_sales=net)
            result = await workflow.execute_activity(
                f"bare_{step.kind}", call, start_to_close_timeout=timedelta(seconds=30)
            )
            if step.kind == "check":
                net = result
        await asyncio.sleep(inp.next_wait)

    async def _sleep_until(self, moment: float) -> None:
        wait = moment - workflow.now().timestamp()
        if wait > 0:
            await asyncio.sleep(wait)


async def serve(address: str, dsn: str, task_queue: str, cached: int, pool_size: int) -> None:
    """A bare worker until SIGTERM/SIGINT, sized like the real one: activity concurrency,
    sticky cache and Postgres pool."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size)
    assert pool is not None
    acts = BareActivities(pool)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[BarePeriod],
        activities=[acts.check, acts.statement, acts.insert, acts.sync],
        max_concurrent_activities=50,
        max_cached_workflows=cached,
    )
    try:
        async with worker:
            await stop.wait()
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--max-cached", type=int, default=1000, help="sticky cache size")
    parser.add_argument("--pool", type=int, default=30, help="Postgres pool size")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.address, args.dsn, args.task_queue, args.max_cached, args.pool))


if __name__ == "__main__":
    # import this file as `bare_period` (not `__main__`): the sandbox re-imports the
    # workflow's module by name
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bare_period

    bare_period.main()
