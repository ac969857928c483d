"""Deal read model: written by workflow activities, read by the API for ownership checks."""

from __future__ import annotations

from typing import Any

import asyncpg

from store.pool import Db, fetch_one


async def upsert(
    db: Db,
    *,
    deal_id: str,
    workflow_id: str,
    title: str,
    owner: str | None,
    stage: str,
    request: dict[str, Any],
    request_hash: str,
    partner_id: str | None = None,
    kpi_status: str | None = None,
) -> None:
    await db.execute(
        """
        INSERT INTO deals (deal_id, workflow_id, title, owner, stage, partner_id, kpi_status,
                           request, request_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (deal_id) DO UPDATE SET
            stage = EXCLUDED.stage,
            partner_id = COALESCE(EXCLUDED.partner_id, deals.partner_id),
            kpi_status = COALESCE(EXCLUDED.kpi_status, deals.kpi_status),
            updated_at = now()
        """,
        deal_id,
        workflow_id,
        title,
        owner,
        stage,
        partner_id,
        kpi_status,
        request,
        request_hash,
    )


async def set_stage(
    db: asyncpg.Pool,
    deal_id: str,
    stage: str,
    *,
    partner_id: str | None = None,
    kpi_status: str | None = None,
) -> None:
    await db.execute(
        "UPDATE deals SET stage = $2, partner_id = COALESCE($3, partner_id),"
        " kpi_status = COALESCE($4, kpi_status), updated_at = now() WHERE deal_id = $1",
        deal_id,
        stage,
        partner_id,
        kpi_status,
    )


async def get(db: asyncpg.Pool, deal_id: str) -> dict[str, Any] | None:
    return await fetch_one(db, "SELECT * FROM deals WHERE deal_id = $1", deal_id)
