"""API bearer tokens: random, shown once, stored as SHA-256 hashes; each belongs to a user of
the directory (`store.users`) and expires (90 days unless issued with another TTL).

A token is issued with the roles (and partner) of its user, or a subset of them, never more.
It acts with those of its roles that the user still holds, only while the user is active and
until it expires or is revoked (`store.principals.lookup`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from store import users
from store.pool import Db

ROLES = ("admin", "owner", "approver", "partner", "ops", "finance")
TOKEN_PREFIX = "lf_"
DEFAULT_TTL = timedelta(days=90)
MAX_TTL = timedelta(days=365)
_TTL = re.compile(r"^([1-9][0-9]{0,5})([dh])$")

TokenStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: user name, roles and (for partner tokens) the partner."""

    user: str
    roles: frozenset[str]
    partner_id: str | None = None
    token_id: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


class TokenError(ValueError):
    """A token cannot be issued: unknown or disabled user, roles the user does not hold, ..."""


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as listed: never its secret nor its hash."""

    token_id: str
    user_name: str
    roles: tuple[str, ...]
    partner_id: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> TokenStatus:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: its plaintext (shown once, never stored) and its row."""

    token: str
    info: TokenInfo


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_ttl(text: str) -> timedelta:
    """`90d` or `12h` as a timedelta; ValueError unless 1 hour to MAX_TTL."""
    match = _TTL.match(text.strip())
    if not match:
        raise ValueError(f"invalid TTL {text!r}: use days or hours, e.g. 30d or 12h")
    amount, unit = int(match[1]), match[2]
    ttl = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
    if ttl > MAX_TTL:
        raise ValueError(f"TTL {text} is above the maximum of {MAX_TTL.days}d")
    return ttl


def validate_grant(roles: list[str], partner_id: str | None) -> None:
    """Raise ValueError when roles/partner do not make a valid token."""
    if not roles:
        raise ValueError("at least one role is required")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    if "partner" in roles and not partner_id:
        raise ValueError("the partner role needs --partner")
    if partner_id and "partner" not in roles:
        raise ValueError("--partner only goes with the partner role")


def grant_for(
    user: users.User, roles: list[str] | None = None, partner_id: str | None = None
) -> tuple[list[str], str | None]:
    """The roles and partner of a token for `user`: all of the user's when `roles` is None,
    else `roles`, which must be a subset of them (a given partner must be the user's)."""
    if not user.active:
        raise TokenError(f"user {user.user_name} is disabled")
    wanted = sorted(set(user.roles if roles is None else roles))
    missing = sorted(set(wanted) - user.roles)
    if missing:
        raise TokenError(
            f"user {user.user_name} does not hold the role(s) {', '.join(missing)}"
            f" (holds {', '.join(sorted(user.roles))})"
        )
    partner = user.partner_id if "partner" in wanted else None
    if partner_id is not None and partner_id != partner:
        if "partner" in wanted:
            raise TokenError(f"user {user.user_name} is bound to partner {user.partner_id}")
        raise TokenError("--partner only goes with the partner role")
    validate_grant(wanted, partner)
    return wanted, partner


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        token_id=row["token_id"],
        user_name=row["user_name"],
        roles=tuple(row["roles"]),
        partner_id=row["partner_id"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        last_used_at=row["last_used_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


_COLUMNS = (
    "token_id, user_name, roles, partner_id, created_at, created_by, last_used_at, expires_at,"
    " revoked_at"
)


async def issue(
    db: Db,
    user: str,
    roles: list[str] | None = None,
    partner_id: str | None = None,
    *,
    token: str | None = None,
    ttl: timedelta | None = None,
    created_by: str | None = None,
) -> IssuedToken:
    """Issue a token for the existing, active `user` with its roles (or the subset `roles`).

    `token` stores a given plaintext (dev tokens): when its hash is stored already, that row is
    answered unchanged. TokenError (a ValueError) when the token may not be issued.
    """
    ttl = DEFAULT_TTL if ttl is None else ttl
    if not timedelta(0) < ttl <= MAX_TTL:
        raise TokenError(f"a token lives more than 0 and at most {MAX_TTL.days} days")
    found = await users.get(db, user)
    if found is None:
        raise TokenError(f"unknown user {user}: add it first (licenseflow user add)")
    granted, partner = grant_for(found, roles, partner_id)
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = await db.fetchrow(
        f"""
        INSERT INTO api_tokens (token_id, token_hash, user_name, roles, partner_id, expires_at,
                                created_by)
        VALUES ($1, $2, $3, $4, $5, now() + $6::interval, $7)
        ON CONFLICT (token_hash) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        "tok_" + secrets.token_hex(8),
        hash_token(token),
        user,
        granted,
        partner,
        ttl,
        created_by,
    )
    if row is None:  # a given plaintext stored before
        row = await db.fetchrow(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = $1", hash_token(token)
        )
    return IssuedToken(token=token, info=_info(row))


async def create_token(
    db: Db,
    user: str,
    roles: list[str] | None = None,
    partner_id: str | None = None,
    *,
    token: str | None = None,
    ttl: timedelta | None = None,
    created_by: str | None = None,
) -> str:
    """`issue`, answering only the plaintext."""
    issued = await issue(db, user, roles, partner_id, token=token, ttl=ttl, created_by=created_by)
    return issued.token


async def get(db: Db, token_id: str) -> TokenInfo | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = $1", token_id)
    return _info(row) if row else None


async def find(db: Db, token: str) -> TokenInfo | None:
    """The stored row of a plaintext token, whatever its status."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = $1", hash_token(token)
    )
    return _info(row) if row else None


async def list_tokens(db: Db, *, user: str | None = None, limit: int = 500) -> list[TokenInfo]:
    """Tokens (every status), newest first, optionally of one user."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE ($1::text IS NULL OR user_name = $1)"
        " ORDER BY created_at DESC, token_id LIMIT $2",
        user,
        limit,
    )
    return [_info(r) for r in rows]


async def revoke_id(db: Db, token_id: str) -> tuple[TokenInfo, bool] | None:
    """Revoke a token by id: (its row, whether it was live until now); None when unknown."""
    row = await db.fetchrow(
        f"UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL"
        f" RETURNING {_COLUMNS}",
        token_id,
    )
    if row is not None:
        return _info(row), True
    found = await get(db, token_id)
    return (found, False) if found else None


async def revoke(db: asyncpg.Pool, token: str) -> bool:
    status = await db.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
    )
    return status.endswith(" 1")
