"""Royalty statements, keyed by the workflow-made statement id (idempotent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from store.pool import fetch_all


async def insert(
    db: asyncpg.Pool,
    *,
    statement_id: str,
    deal_id: str,
    kind: str,
    contract_year: int,
    period: int | None,
    net_sales: Decimal,
    royalty_earned: Decimal,
    guaranteed_due: Decimal,
    amount_due: Decimal,
    currency: str,
    issued_at: Any,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Insert once; False when the statement exists already (activity retry)."""
    row = await db.fetchrow(
        """
        INSERT INTO statements (statement_id, deal_id, kind, contract_year, period, net_sales,
                                royalty_earned, guaranteed_due, amount_due, currency, issued_at,
                                detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        ON CONFLICT (statement_id) DO NOTHING RETURNING statement_id
        """,
        statement_id,
        deal_id,
        kind,
        contract_year,
        period,
        net_sales,
        royalty_earned,
        guaranteed_due,
        amount_due,
        currency,
        issued_at,
        detail or {},
    )
    return row is not None


async def for_deal(db: asyncpg.Pool, deal_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        db, "SELECT * FROM statements WHERE deal_id = $1 ORDER BY issued_at, statement_id", deal_id
    )
