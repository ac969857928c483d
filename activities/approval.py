"""Activities of PartnerApproval: screening against the stored partner record."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval import ScreeningResult
from domain.approval_messages import ScreenPartnerInput
from domain.partner import PartnerProfile
from domain.screening import screen_partner
from store import partners

log = structlog.get_logger(__name__)


class ApprovalActivities:
    """Partner screening, bound to a Postgres pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def screen_partner(self, params: ScreenPartnerInput) -> ScreeningResult:
        """Screen the partner; risk flags come from Postgres when the partner is stored there."""
        profile = await self._with_stored_risk_flags(params.partner)
        result = screen_partner(profile, params.scope, params.settings)
        log.info(
            "partner.screened",
            deal_id=params.deal_id,
            partner_id=profile.partner_id,
            passed=result.passed,
            score=result.score,
        )
        return result

    async def _with_stored_risk_flags(self, profile: PartnerProfile) -> PartnerProfile:
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
        risk = profile.risk.model_copy(update={"flags": flags})
        return profile.model_copy(update={"risk": risk})
