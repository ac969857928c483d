"""The users directory: who may act, with which roles, for which partner, and whether active."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from store.pool import Db


@dataclass(frozen=True)
class User:
    user_name: str
    display_name: str
    roles: frozenset[str]
    partner_id: str | None
    active: bool

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _user(row: Any) -> User:
    return User(
        user_name=row["user_name"],
        display_name=row["display_name"],
        roles=frozenset(row["roles"]),
        partner_id=row["partner_id"],
        active=row["active"],
    )


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
    """Create or replace a user (roles replaced, not merged)."""
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


async def list_all(db: Db, *, limit: int = 500) -> list[User]:
    rows = await db.fetch("SELECT * FROM users ORDER BY user_name LIMIT $1", limit)
    return [_user(r) for r in rows]


async def set_active(db: Db, user_name: str, active: bool) -> bool:
    status = await db.execute(
        "UPDATE users SET active = $2 WHERE user_name = $1", user_name, active
    )
    return status.endswith(" 1")
