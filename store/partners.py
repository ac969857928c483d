"""Partner profiles."""

from __future__ import annotations

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
