"""Activities of PartnerApproval: screening against the stored partner record, and a
resubmitted profile stored as the partner's next version."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval import ScreeningResult
from domain.approval_messages import (
    ScreenPartnerInput,
    StoredPartnerVersion,
    StorePartnerVersionInput,
)
from domain.approval_rules import keep_licensor_assessment
from domain.bounds import RECORDED
from domain.partner import Evaluation, PartnerProfile
from domain.screening import screen_partner
from store import partners

log = structlog.get_logger(__name__)


class ApprovalActivities:
    """Partner screening, bound to a Postgres pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def screen_partner(self, params: ScreenPartnerInput) -> ScreeningResult:
        """Screen the partner; the licensor's evaluation and risk flags come from Postgres
        when the partner is stored there (never from a profile the partner submitted)."""
        profile = await self._with_stored_assessment(params.partner)
        result = screen_partner(profile, params.scope, params.settings)
        log.info(
            "partner.screened",
            deal_id=params.deal_id,
            partner_id=profile.partner_id,
            passed=result.passed,
            score=result.score,
        )
        return result

    async def _with_stored_assessment(self, profile: PartnerProfile) -> PartnerProfile:
        stored = await partners.get(self._pool, profile.partner_id)
        if stored is None:
            return profile
        flags = (stored.get("risk") or {}).get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise ApplicationError(
                f"stored risk flags of partner {profile.partner_id} are malformed",
                type=errors.INVALID,
                non_retryable=True,
            )
        try:
            evaluation = Evaluation.model_validate(stored.get("evaluation"), context=RECORDED)
        except ValidationError:
            raise ApplicationError(
                f"stored evaluation of partner {profile.partner_id} is malformed",
                type=errors.INVALID,
                non_retryable=True,
            ) from None
        risk = profile.risk.model_copy(update={"flags": flags})
        return profile.model_copy(update={"evaluation": evaluation, "risk": risk})

    @activity.defn
    async def store_partner_version(self, inp: StorePartnerVersionInput) -> StoredPartnerVersion:
        """Store a resubmitted profile as the partner's next version: its descriptive fields,
        with the licensor's evaluation and risk flags of the stored profile (locked for
        the change); once per idempotency key. A partner not stored in Postgres: the profile
        as given, not stored."""

        def revise(stored: dict[str, Any]) -> dict[str, Any]:
            current = PartnerProfile.model_validate(stored, context=RECORDED)
            return keep_licensor_assessment(inp.profile, current).model_dump(mode="json")

        try:
            saved = await partners.save_version(
                self._pool,
                inp.profile.partner_id,
                revise,
                submitted_by=inp.submitted_by,
                idempotency_key=inp.idempotency_key,
                deal_id=inp.deal_id,
                workflow_id=inp.workflow_id,
            )
        except ValidationError:
            raise ApplicationError(
                f"stored profile of partner {inp.profile.partner_id} is malformed",
                type=errors.INVALID,
                non_retryable=True,
            ) from None
        if saved is None:
            return StoredPartnerVersion(profile=inp.profile, stored=False)
        log.info(
            "partner.version_stored",
            deal_id=inp.deal_id,
            partner_id=inp.profile.partner_id,
            version=saved["version"],
            submitted_by=inp.submitted_by,
        )
        profile = PartnerProfile.model_validate(saved, context=RECORDED)
        return StoredPartnerVersion(profile=profile)
