"""Applying signing events to an envelope: once per event id, in order, never after settling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

SETTLED = ("completed", "declined", "voided")

Outcome = Literal["applied", "duplicate", "stale", "settled", "unknown"]


@dataclass(frozen=True)
class Applied:
    """What happened to one event, and the envelope status before and after it."""

    outcome: Outcome
    status_before: str | None = None
    status: str | None = None
    deal_id: str | None = None
    workflow_id: str | None = None
    signed_by: tuple[str, ...] = ()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _latest_at(events: list[dict[str, Any]]) -> datetime | None:
    stamps = [
        _aware(datetime.fromisoformat(e["at"])) for e in events if isinstance(e.get("at"), str)
    ]
    return max(stamps) if stamps else None


async def apply_event(
    db: asyncpg.Pool,
    envelope_id: str,
    *,
    event_id: str,
    event: str,
    at: datetime,
    signer: str | None = None,
    settle: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Applied:
    """Record one event under a row lock.

    Duplicates (same event id), events older than the latest applied one and anything
    after the envelope settled (completed/declined/voided) are ignored. A signer is added
    to `signed_by`; once every signatory signed, the envelope is completed.
    """
    async with db.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT deal_id, workflow_id, status, signatories, signed_by, events"
            " FROM signature_envelopes WHERE envelope_id = $1 FOR UPDATE",
            envelope_id,
        )
        if row is None:
            return Applied("unknown")
        before = row["status"]
        signed = list(row["signed_by"])
        base = {
            "status_before": before,
            "status": before,
            "deal_id": row["deal_id"],
            "workflow_id": row["workflow_id"],
            "signed_by": tuple(signed),
        }
        events: list[dict[str, Any]] = list(row["events"])
        if any(e.get("event_id") == event_id for e in events):
            return Applied("duplicate", **base)
        if before in SETTLED:
            return Applied("settled", **base)
        at = _aware(at)
        latest = _latest_at(events)
        if latest is not None and at < latest:
            return Applied("stale", **base)
        if signer and signer not in signed:
            signed.append(signer)
        status = settle
        if status is None and signer and set(row["signatories"]) <= set(signed):
            status = "completed"
        entry = {
            "event_id": event_id,
            "event": event,
            "at": at.isoformat(),
            "by": signer,
            **(detail or {}),
        }
        await conn.execute(
            "UPDATE signature_envelopes SET events = events || $2::jsonb, signed_by = $3,"
            " status = COALESCE($4, status), updated_at = now() WHERE envelope_id = $1",
            envelope_id,
            [entry],
            signed,
            status,
        )
        return Applied(
            "applied", **{**base, "status": status or before, "signed_by": tuple(signed)}
        )
