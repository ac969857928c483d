"""The grants ledger: one row per (deal, cell), kept conflict-free by the database.

`hold` makes a deal's rows exactly the given ones in one transaction (upsert the wanted
cells, release the others); the exclusion constraint `grants_no_conflict` refuses a row
that overlaps another deal's grant of the same cell when either is exclusive. The refusal
(`asyncpg.exceptions.ExclusionViolationError`) rolls the whole change back and is answered
as a business conflict naming the blocking grant (read after the rollback). Calls are
idempotent: holding the same rows again, or releasing twice, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.exceptions import DeadlockDetectedError, ExclusionViolationError

from domain.rights import (
    BlockingGrant,
    Cell,
    GrantRow,
    RightsConflict,
    WindowPolicy,
    first_unavailable,
)
from store import audit, properties
from store.pool import Db, fetch_all, transaction

ATTEMPTS = 5
"""Tries of one hold when the blocking grant is gone by the time it is read (released
meanwhile) or two holds deadlock; then the error goes back to the caller (an activity:
retried by Temporal)."""

_WANTED = """
wanted AS (
    SELECT w.category, w.territory, w.channel, w.starts_at, w.ends_at, w.exclusive, w.status,
           w.plan_version
    FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                $8::boolean[], $9::text[], $10::integer[])
         AS w(category, territory, channel, starts_at, ends_at, exclusive, status, plan_version)
),
merged AS (
    -- an active row keeps its start; reserved and new rows take the wanted window
    SELECT w.category, w.territory, w.channel, w.exclusive, w.status, w.plan_version,
           CASE WHEN g.status = 'active' AND w.status = 'active'
                THEN tstzrange(lower(g.during), greatest(lower(g.during), w.ends_at))
                ELSE tstzrange(w.starts_at, greatest(w.starts_at, w.ends_at))
           END AS during
    FROM wanted w
    LEFT JOIN grants g
      ON g.deal_id = $1 AND g.property_id = $2 AND g.category = w.category
     AND g.territory = w.territory AND g.channel = w.channel
)"""

_UPSERT = f"""
WITH {_WANTED}
INSERT INTO grants AS g (property_id, deal_id, partner_id, category, territory, channel,
                         during, exclusive, status, plan_version)
SELECT $2, $1, $11, m.category, m.territory, m.channel, m.during, m.exclusive, m.status,
       coalesce(m.plan_version, $12)
FROM merged m
ORDER BY m.category, m.territory, m.channel
ON CONFLICT (deal_id, property_id, category, territory, channel) DO UPDATE SET
    partner_id = coalesce(EXCLUDED.partner_id, g.partner_id),
    during = EXCLUDED.during,
    exclusive = EXCLUDED.exclusive,
    status = EXCLUDED.status,
    plan_version = EXCLUDED.plan_version,
    released_at = NULL,
    updated_at = now()
WHERE (g.partner_id, g.during, g.exclusive, g.status, g.plan_version)
      IS DISTINCT FROM (coalesce(EXCLUDED.partner_id, g.partner_id), EXCLUDED.during,
                        EXCLUDED.exclusive, EXCLUDED.status, EXCLUDED.plan_version)
"""

_RELEASE_OTHERS = """
UPDATE grants SET status = 'released', released_at = now(), updated_at = now()
WHERE deal_id = $1 AND status <> 'released'
  AND NOT EXISTS (
      SELECT 1 FROM unnest($3::text[], $4::text[], $5::text[]) AS w(category, territory, channel)
      WHERE grants.property_id = $2 AND w.category = grants.category
        AND w.territory = grants.territory AND w.channel = grants.channel)
"""

_BLOCKERS = f"""
WITH {_WANTED}
SELECT m.category, m.territory, m.channel, g.deal_id, g.partner_id, g.exclusive, g.status,
       lower(g.during) AS starts_at, upper(g.during) AS ends_at
FROM merged m
JOIN grants g
  ON g.property_id = $2 AND g.category = m.category AND g.territory = m.territory
 AND g.channel = m.channel AND g.deal_id <> $1 AND g.status <> 'released'
 AND g.during && m.during AND (g.exclusive OR m.exclusive)
ORDER BY m.category, m.territory, m.channel, lower(g.during), g.deal_id
LIMIT 1
"""


def _row_args(rows: Sequence[GrantRow]) -> list[list[Any]]:
    return [
        [r.cell.category for r in rows],
        [r.cell.territory for r in rows],
        [r.cell.channel for r in rows],
        [r.starts_at for r in rows],
        [r.ends_at for r in rows],
        [r.exclusive for r in rows],
        [r.status for r in rows],
        [r.plan_version for r in rows],
    ]


class UnknownProperty(LookupError):
    """The deal names a property the ledger does not know."""


async def hold(
    db: Db,
    *,
    deal_id: str,
    property_id: str,
    partner_id: str | None,
    plan_version: int,
    rows: Sequence[GrantRow],
    window: WindowPolicy = "clip",
    audit_entry: dict[str, Any] | None = None,
) -> tuple[list[GrantRow], RightsConflict | None]:
    """Make the deal's grants exactly `rows` (fitted to the property's availability), in one
    transaction with `audit_entry` (keyword arguments of `store.audit.append`); the rows held,
    or the conflict that refused the change (nothing changed then). Raises UnknownProperty."""
    found = await properties.get(db, property_id)
    if found is None:
        raise UnknownProperty(property_id)
    fitted, unavailable = first_unavailable(rows, found.ledger_view(), window)
    if unavailable is not None:
        return [], unavailable
    args = _row_args(fitted)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with transaction(db) as conn:
                await conn.execute(_UPSERT, deal_id, property_id, *args, partner_id, plan_version)
                await conn.execute(_RELEASE_OTHERS, deal_id, property_id, *args[:3])
                if audit_entry is not None:
                    await audit.append(conn, **audit_entry)
            return fitted, None
        except ExclusionViolationError:
            blocker = await db.fetchrow(_BLOCKERS, deal_id, property_id, *args)
            if blocker is not None:
                return [], _conflict(property_id, blocker)
            if attempt == ATTEMPTS:
                raise  # released between the refusal and the read, every time: try later
        except DeadlockDetectedError:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _conflict(property_id: str, row: asyncpg.Record) -> RightsConflict:
    return RightsConflict(
        kind="held",
        property_id=property_id,
        category=row["category"],
        territory=row["territory"],
        channel=row["channel"],
        deal_id=row["deal_id"],
        licensee=row["partner_id"],
        exclusive=row["exclusive"],
        status=row["status"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
    )


async def release(db: Db, deal_id: str, *, audit_entry: dict[str, Any] | None = None) -> int:
    """Release every grant of the deal (with `audit_entry` in the same transaction); how many
    were still held."""
    async with transaction(db) as conn:
        done = await conn.execute(
            "UPDATE grants SET status = 'released', released_at = now(), updated_at = now()"
            " WHERE deal_id = $1 AND status <> 'released'",
            deal_id,
        )
        if audit_entry is not None:
            await audit.append(conn, **audit_entry)
    return int(done.split()[-1])


async def for_deal(db: Db, deal_id: str) -> list[dict[str, Any]]:
    """Every row of a deal (released ones too), by cell."""
    return await fetch_all(
        db,
        "SELECT property_id, deal_id, partner_id, category, territory, channel,"
        " lower(during) AS starts_at, upper(during) AS ends_at, exclusive, status,"
        " plan_version, released_at FROM grants WHERE deal_id = $1"
        " ORDER BY category, territory, channel",
        deal_id,
    )


async def overlapping(
    db: Db,
    property_id: str,
    cells: Sequence[Cell],
    starts_at: datetime,
    ends_at: datetime | None,
) -> dict[Cell, list[BlockingGrant]]:
    """The held grants overlapping [starts_at, ends_at) in each of `cells`."""
    rows = await db.fetch(
        "SELECT g.category, g.territory, g.channel, g.deal_id, g.partner_id, g.exclusive,"
        " g.status, lower(g.during) AS starts_at, upper(g.during) AS ends_at"
        " FROM unnest($2::text[], $3::text[], $4::text[]) AS c(category, territory, channel)"
        " JOIN grants g ON g.property_id = $1 AND g.category = c.category"
        " AND g.territory = c.territory AND g.channel = c.channel"
        " WHERE g.status <> 'released' AND g.during && tstzrange($5, $6)"
        " ORDER BY g.territory, lower(g.during), g.deal_id",
        property_id,
        [c.category for c in cells],
        [c.territory for c in cells],
        [c.channel for c in cells],
        starts_at,
        ends_at,
    )
    found: dict[Cell, list[BlockingGrant]] = {c: [] for c in cells}
    for r in rows:
        cell = Cell(r["category"], r["territory"], r["channel"])
        found.setdefault(cell, []).append(
            BlockingGrant(
                deal_id=r["deal_id"],
                licensee=r["partner_id"],
                exclusive=r["exclusive"],
                status=r["status"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
            )
        )
    return found


async def program(
    db: Db,
    property_id: str,
    *,
    statuses: Sequence[str] = ("reserved", "active"),
    deal_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The property's grants grouped per deal, category, channel and window (the countries
    of each group listed): who holds what, where, until when. Soonest start first."""
    return await fetch_all(
        db,
        "SELECT deal_id, partner_id, category, channel, exclusive, status, plan_version,"
        " lower(during) AS starts_at, upper(during) AS ends_at,"
        " array_agg(territory ORDER BY territory) AS territories,"
        " max(updated_at) AS updated_at"
        " FROM grants WHERE property_id = $1 AND status = ANY($2::text[])"
        " AND ($3::text IS NULL OR deal_id = $3)"
        " GROUP BY deal_id, partner_id, category, channel, exclusive, status, plan_version, during"
        " ORDER BY lower(during), deal_id, category, channel LIMIT $4",
        property_id,
        list(statuses),
        deal_id,
        limit,
    )
