"""Audit log: append-only, deduplicated by idempotency key."""

from __future__ import annotations

import ipaddress
from typing import Any

import asyncpg

from store.pool import Db, fetch_all


async def append(
    db: Db,
    *,
    actor: str,
    action: str,
    deal_id: str | None = None,
    workflow_id: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    token_id: str | None = None,
    client_ip: str | None = None,
) -> bool:
    """Append one entry; False when the idempotency key was already written. `token_id` and
    `client_ip` (an IP address, else stored as NULL) say which API token acted from where."""
    row = await db.fetchrow(
        """
        INSERT INTO audit_log (actor, action, deal_id, workflow_id, subject, detail,
                               idempotency_key, token_id, client_ip)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::inet)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
        """,
        actor,
        action,
        deal_id,
        workflow_id,
        subject,
        detail or {},
        idempotency_key,
        token_id,
        ip_or_none(client_ip),
    )
    return row is not None


async def for_deal(db: asyncpg.Pool, deal_id: str, *, limit: int = 500) -> list[dict[str, Any]]:
    return await fetch_all(
        db,
        "SELECT id, at, actor, action, deal_id, workflow_id, subject, detail FROM audit_log"
        " WHERE deal_id = $1 ORDER BY id LIMIT $2",
        deal_id,
        limit,
    )


def ip_or_none(value: str | None) -> str | None:
    """`value` normalised when it is an IP address; None otherwise (a test client's name, a
    Unix socket peer): the column only holds addresses."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
