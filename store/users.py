"""The users directory: who may act, with which roles, for which partner, and whether active.

Tokens belong to users (`store.tokens`): a token acts with the roles it was issued with that
its user still holds, and only while the user is active (`store.principals.lookup`). A partner
user is bound to one partner id, which need not be registered yet (a partner's contact user
is created before the partner is registered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.pool import Db


@dataclass(frozen=True)
class User:
    user_name: str
    display_name: str
    roles: frozenset[str]
    partner_id: str | None
    active: bool
    created_at: datetime | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _user(row: Any) -> User:
    return User(
        user_name=row["user_name"],
        display_name=row["display_name"],
        roles=frozenset(row["roles"]),
        partner_id=row["partner_id"],
        active=row["active"],
        created_at=row["created_at"],
    )


def check_grant(roles: list[str], partner_id: str | None) -> None:
    """Raise ValueError unless `roles` are known roles and `partner_id` goes with the partner
    role (and only with it); the same rules as tokens (`store.tokens.validate_grant`)."""
    from store.tokens import validate_grant  # store.tokens imports this module

    validate_grant(roles, partner_id)


async def get(db: Db, user_name: str) -> User | None:
    row = await db.fetchrow("SELECT * FROM users WHERE user_name = $1", user_name)
    return _user(row) if row else None


async def get_many(db: Db, names: list[str]) -> dict[str, User]:
    """The users among `names` that exist, by name."""
    rows = await db.fetch("SELECT * FROM users WHERE user_name = ANY($1::text[])", names)
    return {r["user_name"]: _user(r) for r in rows}


async def partner_users(db: Db, partner_id: str) -> list[str]:
    """Every user bound to `partner_id` (active or not: a disabled one stays conflicted)."""
    rows = await db.fetch(
        "SELECT user_name FROM users WHERE partner_id = $1 ORDER BY user_name", partner_id
    )
    return [r["user_name"] for r in rows]


async def upsert(
    db: Db,
    user_name: str,
    *,
    roles: list[str],
    partner_id: str | None = None,
    display_name: str | None = None,
    active: bool = True,
) -> User:
    """Create or replace a user (roles replaced, not merged). Roles are checked."""
    check_grant(roles, partner_id)
    row = await db.fetchrow(
        """
        INSERT INTO users (user_name, display_name, roles, partner_id, active)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_name) DO UPDATE SET display_name = EXCLUDED.display_name,
            roles = EXCLUDED.roles, partner_id = EXCLUDED.partner_id, active = EXCLUDED.active
        RETURNING *
        """,
        user_name,
        display_name or user_name,
        sorted(set(roles)),
        partner_id,
        active,
    )
    return _user(row)


async def create(
    db: Db,
    user_name: str,
    *,
    roles: list[str],
    partner_id: str | None = None,
    display_name: str | None = None,
) -> User | None:
    """Add a user; None when the name is taken (nothing changed). Roles are checked."""
    check_grant(roles, partner_id)
    row = await db.fetchrow(
        """
        INSERT INTO users (user_name, display_name, roles, partner_id)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_name) DO NOTHING
        RETURNING *
        """,
        user_name,
        display_name or user_name,
        sorted(set(roles)),
        partner_id,
    )
    return _user(row) if row else None


async def ensure(
    db: Db,
    user_name: str,
    roles: list[str],
    partner_id: str | None = None,
    *,
    display_name: str | None = None,
) -> User:
    """The user with at least `roles` (created, or the roles added; a given partner binding
    replaces the old one). For fixtures, benchmarks and the dev stack, not for the API."""
    check_grant(roles, partner_id)
    row = await db.fetchrow(
        """
        INSERT INTO users (user_name, display_name, roles, partner_id)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (user_name) DO UPDATE SET
            roles = ARRAY(SELECT DISTINCT r FROM unnest(users.roles || EXCLUDED.roles) r
                          ORDER BY r),
            partner_id = COALESCE(EXCLUDED.partner_id, users.partner_id)
        RETURNING *
        """,
        user_name,
        display_name or user_name,
        sorted(set(roles)),
        partner_id,
    )
    return _user(row)


async def list_all(
    db: Db,
    *,
    limit: int = 500,
    role: str | None = None,
    partner_id: str | None = None,
    active: bool | None = None,
) -> list[User]:
    """Users by name, optionally only those holding `role`, bound to `partner_id` or
    (in)active."""
    rows = await db.fetch(
        "SELECT * FROM users"
        " WHERE ($2::text IS NULL OR $2 = ANY (roles))"
        " AND ($3::text IS NULL OR partner_id = $3)"
        " AND ($4::boolean IS NULL OR active = $4)"
        " ORDER BY user_name LIMIT $1",
        limit,
        role,
        partner_id,
        active,
    )
    return [_user(r) for r in rows]


async def set_active(db: Db, user_name: str, active: bool) -> bool:
    status = await db.execute(
        "UPDATE users SET active = $2 WHERE user_name = $1", user_name, active
    )
    return status.endswith(" 1")
