"""Licensable properties: registered once (never changed or deleted), read by the API and
the rights ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from asyncpg import Range

from domain.bounds import RECORDED
from domain.properties import PropertyIn, PropertyOut
from store.pool import Db

_COLUMNS = (
    "property_id, name, owner, categories, territories, channels, lower(available) AS"
    " available_from, upper(available) AS available_to, created_by, created_at"
)


def _out(row: asyncpg.Record) -> PropertyOut:
    data: dict[str, Any] = dict(row)
    data["rights"] = {
        "categories": data.pop("categories"),
        "territories": data.pop("territories"),
        "channels": data.pop("channels"),
    }
    return PropertyOut.model_validate(data, context=RECORDED)


async def insert(db: Db, prop: PropertyIn, *, owner: str, created_by: str) -> PropertyOut | None:
    """Store a new property; None when its id is taken (nothing changes then)."""
    row = await db.fetchrow(
        "INSERT INTO properties (property_id, name, owner, categories, territories, channels,"
        " available, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        f" ON CONFLICT (property_id) DO NOTHING RETURNING {_COLUMNS}",
        prop.property_id,
        prop.name,
        owner,
        list(prop.rights.categories),
        list(prop.rights.territories),
        list(prop.rights.channels),
        Range(prop.available_from, prop.available_to, lower_inc=True, upper_inc=False),
        created_by,
    )
    return _out(row) if row is not None else None


async def get(db: Db, property_id: str) -> PropertyOut | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM properties WHERE property_id = $1", property_id
    )
    return _out(row) if row is not None else None


async def listing(
    db: Db, *, owner: str | None = None, after: str | None = None, limit: int = 100
) -> list[PropertyOut]:
    """Properties by id (of one `owner` when given), after the id `after`."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM properties WHERE ($1::text IS NULL OR owner = $1)"
        " AND ($2::text IS NULL OR property_id > $2) ORDER BY property_id LIMIT $3",
        owner,
        after,
        limit,
    )
    return [_out(r) for r in rows]


def same(stored: PropertyOut, prop: PropertyIn, owner: str) -> bool:
    """`prop` (by `owner`) is what is stored: a repeated POST, not a different property."""
    mine = prop.model_copy(update={"owner": owner})
    theirs = PropertyIn.model_validate(
        stored.model_dump(include=set(PropertyIn.model_fields)), context=RECORDED
    )
    return _moments(mine) == _moments(theirs)


def _moments(prop: PropertyIn) -> tuple[Any, ...]:
    def utc(moment: datetime | None) -> float | None:
        return moment.timestamp() if moment is not None else None

    rights = prop.rights
    return (
        prop.property_id,
        prop.name,
        prop.owner,
        tuple(rights.categories),
        tuple(rights.territories),
        tuple(rights.channels),
        utc(prop.available_from),
        utc(prop.available_to),
    )
