"""Notification outbox: one row per idempotency key; workers/outbox.py delivers pending rows.

A claim leases a row to one dispatcher (`next_attempt_at` moves a lease ahead) and bumps its
`claims` counter, which is the claim's fencing token: renewing the lease, releasing the row and
recording the result all require the token to be unchanged, so a dispatcher whose lease ran out
(its row claimed again by another) cannot act on the row any more.
"""

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
    claim: int
    """Fencing token: the row's `claims` counter as of this claim."""


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
    again later (at-least-once delivery). `attempts` counts the attempt now; `claims` (the
    fencing token) counts the claim.
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
            "UPDATE notifications SET attempts = attempts + 1, claims = claims + 1,"
            " next_attempt_at = now() + $2"
            " WHERE id = ANY($1::bigint[])"
            " RETURNING id, recipient, channel, kind, subject, body, deal_id, workflow_id,"
            " attempts, claims AS claim",
            ids,
            lease,
        )
    return sorted((Claimed(**dict(r)) for r in rows), key=lambda c: c.id)


async def renew(db: asyncpg.Pool, note: Claimed, *, lease: timedelta) -> bool:
    """Extend the lease of a claimed row to `lease` from now; False when the claim is lost
    (the lease ran out and another dispatcher claimed the row, or it is no longer pending)."""
    status = await db.execute(
        "UPDATE notifications SET next_attempt_at = now() + $3"
        " WHERE id = $1 AND claims = $2 AND status = 'pending'",
        note.id,
        note.claim,
        lease,
    )
    return status.endswith(" 1")


async def mark_sent(db: asyncpg.Pool, notification_id: int, *, claim: int | None = None) -> bool:
    """Record a delivery; False when the row is no longer pending or, given the `claim` it was
    delivered under, was claimed again since (None: whoever holds it)."""
    status = await db.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now(), last_error = NULL"
        " WHERE id = $1 AND status = 'pending' AND ($2::bigint IS NULL OR claims = $2)",
        notification_id,
        claim,
    )
    return status.endswith(" 1")


async def mark_failed(
    db: asyncpg.Pool,
    notification_id: int,
    error: str,
    *,
    retry_in: timedelta | None,
    claim: int | None = None,
) -> str | None:
    """Record a failed attempt: due again in `retry_in`, or given up (`failed`) when None.

    Returns the new status, or None when the row is no longer pending or was claimed again
    since `claim`.
    """
    status: str | None = await db.fetchval(
        "UPDATE notifications SET last_error = $2,"
        " status = CASE WHEN $3::interval IS NULL THEN 'failed' ELSE 'pending' END,"
        " next_attempt_at = now() + coalesce($3::interval, interval '0')"
        " WHERE id = $1 AND status = 'pending' AND ($4::bigint IS NULL OR claims = $4)"
        " RETURNING status",
        notification_id,
        error[:MAX_ERROR_CHARS],
        retry_in,
        claim,
    )
    return status


async def release(db: asyncpg.Pool, notes: list[Claimed]) -> None:
    """Give back claimed rows not attempted (dispatcher stopping): due now, attempt uncounted.
    Rows claimed again since (by another dispatcher) are left alone."""
    await db.execute(
        "UPDATE notifications n SET attempts = greatest(n.attempts - 1, 0),"
        " next_attempt_at = now()"
        " FROM unnest($1::bigint[], $2::bigint[]) AS c(id, claim)"
        " WHERE n.id = c.id AND n.claims = c.claim AND n.status = 'pending'",
        [n.id for n in notes],
        [n.claim for n in notes],
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
