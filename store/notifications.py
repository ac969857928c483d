"""Notification outbox: one row per idempotency key; workers/outbox.py delivers pending rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from store.pool import Db, fetch_all

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Claimed:
    """A pending notification claimed by one dispatcher for delivery."""

    id: int
    recipient: str
    channel: str
    kind: str
    subject: str
    body: str
    deal_id: str | None
    workflow_id: str | None
    attempts: int
    """Deliveries started, this one included."""


async def enqueue(
    db: Db,
    *,
    idempotency_key: str,
    recipient: str,
    kind: str,
    subject: str,
    body: str = "",
    deal_id: str | None = None,
    workflow_id: str | None = None,
    channel: str = "email",
) -> bool:
    """Queue a notification; False when this key was queued already (activity retry)."""
    row = await db.fetchrow(
        """
        INSERT INTO notifications (idempotency_key, recipient, channel, kind, subject, body,
                                   deal_id, workflow_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (idempotency_key) DO NOTHING RETURNING id
        """,
        idempotency_key,
        recipient,
        channel,
        kind,
        subject,
        body,
        deal_id,
        workflow_id,
    )
    return row is not None


async def for_deal(db: asyncpg.Pool, deal_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        db, "SELECT * FROM notifications WHERE deal_id = $1 ORDER BY id", deal_id
    )


async def claim_due(db: asyncpg.Pool, limit: int, *, lease: timedelta) -> list[Claimed]:
    """Claim up to `limit` due pending rows, oldest first, for one delivery attempt each.

    The rows are locked with SKIP LOCKED (concurrent dispatchers take disjoint rows) and leased:
    `next_attempt_at` moves `lease` ahead, so a dispatcher that dies mid-delivery leaves them due
    again later (at-least-once delivery). `attempts` counts the attempt now.
    """
    async with db.acquire() as conn, conn.transaction():
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= now()"
                " ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $1",
                limit,
            )
        ]
        if not ids:
            return []
        rows = await conn.fetch(
            "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + $2"
            " WHERE id = ANY($1::bigint[])"
            " RETURNING id, recipient, channel, kind, subject, body, deal_id, workflow_id,"
            " attempts",
            ids,
            lease,
        )
    return sorted((Claimed(**dict(r)) for r in rows), key=lambda c: c.id)


async def mark_sent(db: asyncpg.Pool, notification_id: int) -> bool:
    """Record a delivery; False when the row is no longer pending."""
    status = await db.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL"
        " WHERE id = $1 AND status = 'pending'",
        notification_id,
    )
    return status.endswith(" 1")


async def mark_failed(
    db: asyncpg.Pool, notification_id: int, error: str, *, retry_in: timedelta | None
) -> str | None:
    """Record a failed attempt: due again in `retry_in`, or given up (`failed`) when None.

    Returns the new status, or None when the row is no longer pending.
    """
    status: str | None = await db.fetchval(
        "UPDATE notifications SET last_error = $2,"
        " status = CASE WHEN $3::interval IS NULL THEN 'failed' ELSE 'pending' END,"
        " next_attempt_at = now() + coalesce($3::interval, interval '0')"
        " WHERE id = $1 AND status = 'pending' RETURNING status",
        notification_id,
        error[:MAX_ERROR_CHARS],
        retry_in,
    )
    return status


async def release(db: asyncpg.Pool, notification_ids: list[int]) -> None:
    """Give back claimed rows not attempted (dispatcher stopping): due now, attempt uncounted."""
    await db.execute(
        "UPDATE notifications SET attempts = greatest(attempts - 1, 0), next_attempt_at = now()"
        " WHERE id = ANY($1::bigint[]) AND status = 'pending'",
        notification_ids,
    )


async def latest_for_recipient(
    db: asyncpg.Pool, recipient: str, *, limit: int
) -> list[dict[str, Any]]:
    """A recipient's notifications, newest first."""
    return await fetch_all(
        db,
        "SELECT id, kind, subject, body, deal_id, status, created_at, sent_at"
        " FROM notifications WHERE recipient = $1 ORDER BY id DESC LIMIT $2",
        recipient,
        limit,
    )
