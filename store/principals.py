"""Read-mostly token lookup for the API: no write per request, `last_used_at` per minute."""

from __future__ import annotations

import asyncpg

from store.tokens import Principal, hash_token

TOUCH_EVERY_SECONDS = 60


async def lookup(db: asyncpg.Pool, token: str) -> tuple[Principal, bool] | None:
    """(principal, needs_touch) for a live token, or None when unknown or revoked.

    `needs_touch` is true when `last_used_at` is older than a minute (or never set).
    """
    row = await db.fetchrow(
        "SELECT token_id, user_name, roles, partner_id,"
        " (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))"
        " AS needs_touch"
        " FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
        TOUCH_EVERY_SECONDS,
    )
    if row is None:
        return None
    principal = Principal(
        user=row["user_name"],
        roles=frozenset(row["roles"]),
        partner_id=row["partner_id"],
        token_id=row["token_id"],
    )
    return principal, bool(row["needs_touch"])


async def touch(db: asyncpg.Pool, token_id: str) -> None:
    """Record that the token was used now."""
    await db.execute("UPDATE api_tokens SET last_used_at = now() WHERE token_id = $1", token_id)


async def users_with_roles(db: asyncpg.Pool, roles: list[str], *, limit: int = 20) -> list[str]:
    """Users holding a live token with any of `roles`, by name."""
    rows = await db.fetch(
        "SELECT DISTINCT user_name FROM api_tokens"
        " WHERE revoked_at IS NULL AND roles && $1::text[] ORDER BY user_name LIMIT $2",
        roles,
        limit,
    )
    return [r["user_name"] for r in rows]
