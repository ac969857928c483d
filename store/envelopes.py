"""Signature envelopes (the local provider's documents and every provider's status)."""

from __future__ import annotations

from typing import Any

import asyncpg

from store.pool import fetch_one


async def create(
    db: asyncpg.Pool,
    *,
    envelope_id: str,
    idempotency_key: str,
    deal_id: str,
    workflow_id: str,
    provider: str,
    signatories: list[str],
    document: dict[str, Any],
    terms_hash: str | None = None,
) -> str:
    """Create the envelope once per idempotency key; return the (existing) envelope id.
    `terms_hash`: sha256 of the terms and scope the document asks to sign
    (`domain.signed_terms`), kept so what was signed can be proven."""
    row = await db.fetchrow(
        """
        INSERT INTO signature_envelopes (envelope_id, idempotency_key, deal_id, workflow_id,
                                         provider, signatories, document, terms_hash)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (idempotency_key) DO UPDATE SET updated_at = signature_envelopes.updated_at
        RETURNING envelope_id
        """,
        envelope_id,
        idempotency_key,
        deal_id,
        workflow_id,
        provider,
        signatories,
        document,
        terms_hash,
    )
    assert row is not None
    existing: str = row["envelope_id"]
    return existing


async def get(db: asyncpg.Pool, envelope_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        db, "SELECT * FROM signature_envelopes WHERE envelope_id = $1", envelope_id
    )


async def for_task(db: asyncpg.Pool, task_id: str) -> dict[str, Any] | None:
    """The envelope a signature task asked for (its idempotency key is the task id)."""
    row = await db.fetchrow("SELECT * FROM signature_envelopes WHERE idempotency_key = $1", task_id)
    return dict(row) if row else None
