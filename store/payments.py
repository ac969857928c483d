"""Payments received against statements: one row per (statement, reference)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from store.pool import Db, fetch_all, fetch_one

_COLUMNS = "id, statement_id, amount, received_at, reference, recorded_by, recorded_at"


async def insert(
    db: Db,
    *,
    statement_id: str,
    amount: Decimal,
    received_at: datetime,
    reference: str,
    recorded_by: str,
) -> bool:
    """Record a payment; False when this reference is recorded for the statement already."""
    row = await db.fetchrow(
        "INSERT INTO payments (statement_id, amount, received_at, reference, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (statement_id, reference) DO NOTHING RETURNING id",
        statement_id,
        amount,
        received_at,
        reference,
        recorded_by,
    )
    return row is not None


async def by_reference(db: Db, statement_id: str, reference: str) -> dict[str, Any] | None:
    return await fetch_one(
        db,
        f"SELECT {_COLUMNS} FROM payments WHERE statement_id = $1 AND reference = $2",
        statement_id,
        reference,
    )


async def for_statements(db: Db, statement_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The payments of each statement, in the order they were recorded."""
    rows = await fetch_all(
        db,
        f"SELECT {_COLUMNS} FROM payments WHERE statement_id = ANY($1::text[]) ORDER BY id",
        statement_ids,
    )
    found: dict[str, list[dict[str, Any]]] = {s: [] for s in statement_ids}
    for row in rows:
        found[row["statement_id"]].append(row)
    return found
