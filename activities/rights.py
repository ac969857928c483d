"""Rights-ledger activities: hold a deal's grants (reserve, activate, extend, amend, cut)
and release them. Both are idempotent: they make the ledger match their input, so a retry
(or a replayed call) changes nothing. A conflict is a result, never an error: the workflow
refuses the decision that needed the cells. An unknown property fails for good (the deal
parks on an incident); an unreachable database is retried without cap."""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.rights import MAX_CELLS, desired_rows
from domain.rights_activity_io import (
    HoldRightsInput,
    HoldRightsResult,
    ReleaseRightsInput,
    ReleaseRightsResult,
)
from store import grants

SYSTEM_ACTOR = "licenseflow"


class RightsActivities:
    """The grants ledger in Postgres, bound to a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def hold_rights(self, inp: HoldRightsInput) -> HoldRightsResult:
        """Make the deal's grants exactly `inp.holdings`, or answer the conflict."""
        rows = desired_rows(inp.holdings)
        if len(rows) > MAX_CELLS:
            raise ApplicationError(
                f"deal {inp.deal_id} would hold {len(rows)} cells (at most {MAX_CELLS})",
                type=errors.INVALID,
                non_retryable=True,
            )
        try:
            held, conflict = await grants.hold(
                self._pool,
                deal_id=inp.deal_id,
                property_id=inp.property_id,
                partner_id=inp.partner_id,
                plan_version=inp.plan_version,
                rows=rows,
                window=inp.window,
                audit_entry={
                    "actor": SYSTEM_ACTOR,
                    "action": inp.action,
                    "deal_id": inp.deal_id,
                    "workflow_id": inp.workflow_id,
                    "subject": inp.property_id,
                    "detail": {"cells": len(rows), "key": inp.key},
                    "idempotency_key": f"{inp.workflow_id}:rights:{inp.key}",
                },
            )
        except grants.UnknownProperty:
            raise ApplicationError(
                f"property {inp.property_id} not found", type=errors.NOT_FOUND, non_retryable=True
            ) from None
        wanted_ends = {row.cell: row.ends_at for row in rows}
        clipped = sum(1 for got in held if got.ends_at < wanted_ends[got.cell])
        if conflict is not None:
            activity.logger.info("rights.refused %s", conflict.message())
        return HoldRightsResult(cells=len(held), clipped=clipped, conflict=conflict)

    @activity.defn
    async def release_rights(self, inp: ReleaseRightsInput) -> ReleaseRightsResult:
        """Release every grant the deal still holds."""
        released = await grants.release(
            self._pool,
            inp.deal_id,
            audit_entry={
                "actor": SYSTEM_ACTOR,
                "action": "rights.release",
                "deal_id": inp.deal_id,
                "workflow_id": inp.workflow_id,
                "detail": {"reason": inp.reason},
                "idempotency_key": f"{inp.workflow_id}:rights:{inp.key}",
            },
        )
        return ReleaseRightsResult(released=released)
