"""Sales reports: versioned per (deal, period); the highest version is the one that counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from store.pool import Db, fetch_all, fetch_one


async def latest(db: asyncpg.Pool, deal_id: str, period: int) -> dict[str, Any] | None:
    return await fetch_one(
        db,
        "SELECT * FROM sales_reports WHERE deal_id = $1 AND period = $2"
        " ORDER BY version DESC LIMIT 1",
        deal_id,
        period,
    )


async def insert_version(
    db: Db,
    *,
    report_id: str,
    deal_id: str,
    period: int,
    version: int,
    lines: list[dict[str, Any]],
    body_hash: str,
    submitted_by: str,
    correction: bool = False,
    reason: str | None = None,
) -> bool:
    """Insert one version; False when that (deal, period, version) exists (lost race)."""
    row = await db.fetchrow(
        """
        INSERT INTO sales_reports (report_id, deal_id, period, version, lines, body_hash,
                                   correction, reason, submitted_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT DO NOTHING RETURNING report_id
        """,
        report_id,
        deal_id,
        period,
        version,
        lines,
        body_hash,
        correction,
        reason,
        submitted_by,
    )
    return row is not None


async def for_deal(db: asyncpg.Pool, deal_id: str) -> list[dict[str, Any]]:
    return await fetch_all(
        db, "SELECT * FROM sales_reports WHERE deal_id = $1 ORDER BY period, version", deal_id
    )


async def mark_signalled(db: Db, report_id: str) -> None:
    """Record that the deal workflow took the signal for this report version."""
    await db.execute(
        "UPDATE sales_reports SET signalled_at = now()"
        " WHERE report_id = $1 AND signalled_at IS NULL",
        report_id,
    )


async def unsignalled(
    db: asyncpg.Pool, *, older_than: timedelta = timedelta(0), limit: int = 500
) -> list[dict[str, Any]]:
    """Stored versions whose signal never reached the deal (oldest first), to re-send;
    only those stored `older_than` ago (the API signals fresh ones itself) and of deals
    that have not ended."""
    return await fetch_all(
        db,
        "SELECT r.* FROM sales_reports r LEFT JOIN deals d ON d.deal_id = r.deal_id"
        " WHERE r.signalled_at IS NULL AND r.submitted_at <= now() - $1::interval"
        " AND coalesce(d.stage, '') NOT IN ('completed', 'terminated', 'cancelled')"
        " ORDER BY r.submitted_at LIMIT $2",
        older_than,
        limit,
    )
