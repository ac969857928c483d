"""Partner profiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg


async def insert(db: asyncpg.Pool, profile: dict[str, Any], created_by: str) -> bool:
    """Insert a new partner; False when the partner_id exists already."""
    row = await db.fetchrow(
        "INSERT INTO partners (partner_id, profile, created_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (partner_id) DO NOTHING RETURNING partner_id",
        profile["partner_id"],
        profile,
        created_by,
    )
    return row is not None


async def update(db: asyncpg.Pool, profile: dict[str, Any]) -> int | None:
    """Replace a partner's profile, bumping its version; None when unknown."""
    version: int | None = await db.fetchval(
        "UPDATE partners SET profile = $2, version = version + 1, updated_at = now()"
        " WHERE partner_id = $1 RETURNING version",
        profile["partner_id"],
        profile,
    )
    return version


async def get(db: asyncpg.Pool, partner_id: str) -> dict[str, Any] | None:
    """The stored profile (with `version`), or None."""
    row = await db.fetchrow(
        "SELECT profile, version FROM partners WHERE partner_id = $1", partner_id
    )
    if row is None:
        return None
    return {**row["profile"], "version": row["version"]}


async def existing_ids(db: asyncpg.Pool, partner_ids: list[str]) -> set[str]:
    rows = await db.fetch(
        "SELECT partner_id FROM partners WHERE partner_id = ANY($1::text[])", partner_ids
    )
    return {r["partner_id"] for r in rows}


async def email_for_contact_user(db: asyncpg.Pool, user: str) -> str | None:
    """The e-mail of the partner whose contact user is `user` (first partner id if several)."""
    email: str | None = await db.fetchval(
        "SELECT profile->>'email' FROM partners WHERE profile->>'contact_user' = $1"
        " ORDER BY partner_id LIMIT 1",
        user,
    )
    return email


async def save_version(
    db: asyncpg.Pool,
    partner_id: str,
    revise: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    submitted_by: str,
    idempotency_key: str,
    deal_id: str | None = None,
    workflow_id: str | None = None,
) -> dict[str, Any] | None:
    """Store a revised profile as the partner's next version, in one transaction: the row
    is locked, `revise(stored profile)` makes the new profile, the row takes it (version + 1)
    and `partner_versions` keeps it (and the version it replaces, when not kept yet).
    Idempotent by `idempotency_key`: a retry returns the version it stored. None when the
    partner is unknown. Returns the stored profile with its `version`."""
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT profile, version, created_by FROM partners WHERE partner_id = $1 FOR UPDATE",
            partner_id,
        )
        if row is None:
            return None
        done = await conn.fetchrow(
            "SELECT profile, version FROM partner_versions WHERE idempotency_key = $1",
            idempotency_key,
        )
        if done is not None:
            return {**done["profile"], "version": done["version"]}
        stored = {**row["profile"], "version": row["version"]}
        await conn.execute(
            "INSERT INTO partner_versions (partner_id, version, profile, submitted_by)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (partner_id, version) DO NOTHING",
            partner_id,
            row["version"],
            stored,
            row["created_by"],
        )
        version = row["version"] + 1
        profile = {**revise(stored), "partner_id": partner_id, "version": version}
        await conn.execute(
            "UPDATE partners SET profile = $2, version = $3, updated_at = now()"
            " WHERE partner_id = $1",
            partner_id,
            profile,
            version,
        )
        await conn.execute(
            "INSERT INTO partner_versions (partner_id, version, profile, submitted_by,"
            " deal_id, workflow_id, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            partner_id,
            version,
            profile,
            submitted_by,
            deal_id,
            workflow_id,
            idempotency_key,
        )
        return profile


async def versions(db: asyncpg.Pool, partner_id: str) -> list[dict[str, Any]]:
    """Every kept version of a partner's profile, oldest first."""
    rows = await db.fetch(
        "SELECT version, profile, submitted_by, deal_id, workflow_id, created_at"
        " FROM partner_versions WHERE partner_id = $1 ORDER BY version",
        partner_id,
    )
    return [dict(r) for r in rows]
