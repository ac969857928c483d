"""Who may read a partner profile, from the deals read model: owners of deals naming it."""

from __future__ import annotations

from typing import Any

import asyncpg

_NAMED = """
    SELECT DISTINCT named.partner_id
    FROM deals d,
         LATERAL (SELECT d.partner_id
                  UNION SELECT jsonb_array_elements_text(
                      CASE WHEN jsonb_typeof(d.request -> 'partners') = 'array'
                           THEN d.request -> 'partners' ELSE '[]'::jsonb END)) AS named
    WHERE d.owner = $1 AND named.partner_id IS NOT NULL
"""
"""Partner ids an owner's deals name: each deal's approved partner and its requested
candidates (`deals.partner_id`, `deals.request.partners`)."""


async def owner_names_partner(db: asyncpg.Pool, owner: str, partner_id: str) -> bool:
    """True when one of `owner`'s deals names `partner_id` (candidate or licensee)."""
    found: bool = await db.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM ({_NAMED}) n WHERE n.partner_id = $2)",
        owner,
        partner_id,
    )
    return found


async def partners_named_by(db: asyncpg.Pool, owner: str) -> list[str]:
    """Every partner id `owner`'s deals name, sorted."""
    rows = await db.fetch(f"{_NAMED} ORDER BY 1", owner)
    return [r["partner_id"] for r in rows]


async def profiles(
    db: asyncpg.Pool, partner_ids: list[str] | None, *, limit: int
) -> list[dict[str, Any]]:
    """Stored profiles (with `version`) by partner id; `None`: every partner."""
    rows = await db.fetch(
        "SELECT profile, version FROM partners"
        " WHERE $1::text[] IS NULL OR partner_id = ANY($1::text[])"
        " ORDER BY partner_id LIMIT $2",
        partner_ids,
        limit,
    )
    return [{**r["profile"], "version": r["version"]} for r in rows]
