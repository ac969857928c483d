"""The inbox names a condition the assignees' GIN index answers (issue 14): a user's open
tasks are found through the index, not by testing every open task of the book (`$1 =
ANY(assignees)` cannot use it). Checked on the SQL the store sends, planned with sequential
scans discouraged (a tiny table would otherwise be scanned whatever the query)."""

from __future__ import annotations

from typing import Any

import asyncpg
from test_read_model import task, write

from store import read_model


class Recorder:
    """Stands in for the pool: records the SQL and parameters the store sends."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((sql, args))
        return await self.pool.fetch(sql, *args)


async def test_the_inbox_is_answered_from_the_assignees_index(pool: asyncpg.Pool) -> None:
    await read_model.write_deal(
        pool,
        write(1, first=True, tasks=[task("plan", "carol", hours=5)], pending_approvers=["carol"]),
    )
    await read_model.write_deal(
        pool,
        write(
            1,
            deal_id="sun",
            first=True,
            tasks=[task("review", "carol", "olivia", deal_id="sun", hours=2)],
            pending_approvers=["carol", "olivia"],
        ),
    )
    recorder = Recorder(pool)
    assert [r["task_id"] for r in await read_model.inbox(recorder, "carol")] == [
        "deal-sun:review",
        "deal-moon:plan",
    ]
    assert [r["task_id"] for r in await read_model.inbox(recorder, "olivia")] == ["deal-sun:review"]
    assert await read_model.inbox(recorder, "otto") == []
    sql, args = recorder.sent[-1]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))
    assert "deal_tasks_assignees_idx" in plan, plan
