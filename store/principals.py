"""Read-mostly token lookup for the API: no write per request, `last_used_at` per minute.

A token acts for its user while the token is neither revoked nor expired and the user is
active; with the roles it was issued with that the user still holds (a role taken from the
user is gone from every token at once; one given later needs a new token). A partner role
counts only while the user is bound to the token's partner.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from store.tokens import Principal, hash_token

TOUCH_EVERY_SECONDS = 60


def effective_roles(
    token_roles: Iterable[str],
    token_partner: str | None,
    user_roles: Iterable[str],
    user_partner: str | None,
) -> frozenset[str]:
    """The roles a token acts with: its own that its user still holds."""
    roles = frozenset(token_roles) & frozenset(user_roles)
    if "partner" in roles and (token_partner is None or token_partner != user_partner):
        roles -= {"partner"}
    return roles


async def lookup(db: asyncpg.Pool, token: str) -> tuple[Principal, bool] | None:
    """(principal, needs_touch) for a live token, or None when unknown, revoked, expired, of a
    disabled user, or left without any role.

    `needs_touch` is true when `last_used_at` is older than a minute (or never set).
    """
    row = await db.fetchrow(
        "SELECT t.token_id, t.user_name, t.roles, t.partner_id,"
        " u.roles AS user_roles, u.partner_id AS user_partner,"
        " (t.last_used_at IS NULL OR t.last_used_at < now() - make_interval(secs => $2))"
        " AS needs_touch"
        " FROM api_tokens t JOIN users u ON u.user_name = t.user_name"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND u.active",
        hash_token(token),
        TOUCH_EVERY_SECONDS,
    )
    if row is None:
        return None
    roles = effective_roles(row["roles"], row["partner_id"], row["user_roles"], row["user_partner"])
    if not roles:
        return None
    principal = Principal(
        user=row["user_name"],
        roles=roles,
        partner_id=row["partner_id"] if "partner" in roles else None,
        token_id=row["token_id"],
    )
    return principal, bool(row["needs_touch"])


async def touch(db: asyncpg.Pool, token_id: str) -> None:
    """Record that the token was used now."""
    await db.execute("UPDATE api_tokens SET last_used_at = now() WHERE token_id = $1", token_id)


async def users_with_roles(db: asyncpg.Pool, roles: list[str], *, limit: int = 20) -> list[str]:
    """Active users holding a live token that acts with any of `roles`, by name."""
    rows = await db.fetch(
        "SELECT DISTINCT u.user_name FROM users u"
        " JOIN api_tokens t ON t.user_name = u.user_name"
        " WHERE u.active AND t.revoked_at IS NULL AND t.expires_at > now()"
        " AND EXISTS (SELECT 1 FROM unnest($1::text[]) r"
        "             WHERE r = ANY (t.roles) AND r = ANY (u.roles)"
        "             AND (r <> 'partner' OR t.partner_id = u.partner_id))"
        " ORDER BY u.user_name LIMIT $2",
        roles,
        limit,
    )
    return [r["user_name"] for r in rows]
