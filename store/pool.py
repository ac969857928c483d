"""asyncpg pool with JSON/JSONB codecs registered on every connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy  # named in the Db alias

Db: TypeAlias = "asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy[Any]"
"""Where a query runs: the pool, or one connection (for example inside a transaction)."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool; JSON columns come back as Python objects. TLS is what the DSN says
    (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`; asyncpg's default is `prefer`): pass it
    on unchanged."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection
    )
    assert pool is not None
    return pool


async def fetch_all(db: Db, sql: str, *args: object) -> list[dict[str, Any]]:
    """Every row of a query, as dicts."""
    return [dict(r) for r in await db.fetch(sql, *args)]


async def fetch_one(db: Db, sql: str, *args: object) -> dict[str, Any] | None:
    """The first row of a query as a dict, or None."""
    row = await db.fetchrow(sql, *args)
    return dict(row) if row else None


Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"
"""One connection: a plain one or a pool's."""


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[Conn]:
    """A transaction on `db`: a connection of the pool, or the given connection (a savepoint
    when it is inside a transaction already)."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db
