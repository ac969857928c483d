"""Notification outbox: one row per idempotency key; a sender drains pending rows."""

from __future__ import annotations

from typing import Any

import asyncpg


async def enqueue(
    db: asyncpg.Pool,
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


async def for_recipient(db: asyncpg.Pool, recipient: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM notifications WHERE recipient = $1 ORDER BY id", recipient)
    return [dict(r) for r in rows]


async def for_deal(db: asyncpg.Pool, deal_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM notifications WHERE deal_id = $1 ORDER BY id", deal_id)
    return [dict(r) for r in rows]
