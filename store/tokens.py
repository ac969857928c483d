"""API bearer tokens: random, shown once, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from store.pool import Db

ROLES = ("admin", "owner", "approver", "partner", "ops", "finance")
TOKEN_PREFIX = "lf_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: user name, roles and (for partner tokens) the partner."""

    user: str
    roles: frozenset[str]
    partner_id: str | None = None
    token_id: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


async def create_token(
    db: Db,
    user: str,
    roles: list[str],
    partner_id: str | None = None,
    *,
    token: str | None = None,
) -> str:
    """Store a new token (or the given plaintext, for dev tokens) and return the plaintext."""
    validate_grant(roles, partner_id)
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    # the token's user joins the directory (roles merged) if needed
    await db.execute(
        """
        INSERT INTO users (user_name, display_name, roles, partner_id)
        VALUES ($1, $1, $2, $3)
        ON CONFLICT (user_name) DO UPDATE SET
            roles = ARRAY(SELECT DISTINCT r FROM unnest(users.roles || EXCLUDED.roles) r
                          ORDER BY r),
            partner_id = COALESCE(users.partner_id, EXCLUDED.partner_id)
        """,
        user,
        sorted(set(roles)),
        partner_id,
    )
    await db.execute(
        """
        INSERT INTO api_tokens (token_id, token_hash, user_name, roles, partner_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (token_hash) DO NOTHING
        """,
        "tok_" + secrets.token_hex(8),
        hash_token(token),
        user,
        sorted(set(roles)),
        partner_id,
    )
    return token


async def revoke(db: asyncpg.Pool, token: str) -> bool:
    status = await db.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
        hash_token(token),
    )
    return status.endswith(" 1")
