"""PartnerApproval messages beyond domain/approval.py: activity input, withdraw, statuses."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from domain.approval import ApprovalOutcome, Decision, ScreeningSettings
from domain.common import LicensedScope, Model, Text, UserName
from domain.partner import PartnerProfile

__all__ = [
    "DECISIONS",
    "RESUBMIT",
    "ApprovalOutcome",
    "ApprovalStatus",
    "ScreenPartnerInput",
    "StorePartnerVersionInput",
    "StoredPartnerVersion",
    "WithdrawInput",
]

ApprovalStatus = Literal[
    "screening", "awaiting_decision", "awaiting_revision", "approved", "rejected", "withdrawn"
]
"""Values of PartnerApprovalState.status."""

DECISIONS = ["approve", "reject", "needs_revision", "delegate"]
"""Allowed decisions on a partner_approval task."""

RESUBMIT = Decision.RESUBMIT.value
"""The only decision on a partner_revision task."""


class ScreenPartnerInput(Model):
    """Input of the `screen_partner` activity."""

    deal_id: str
    partner: PartnerProfile
    scope: LicensedScope
    settings: ScreeningSettings = Field(default_factory=ScreeningSettings)


class WithdrawInput(Model):
    """Signal `withdraw`: the requester (or the parent deal) ends the approval gracefully."""

    requested_by: UserName
    reason: Text | None = None


class StorePartnerVersionInput(Model):
    """Input of the `store_partner_version` activity: a resubmitted profile, stored as the
    partner's next version with the licensor's assessment kept (idempotent by key)."""

    idempotency_key: str
    deal_id: str
    workflow_id: str
    submitted_by: str
    profile: PartnerProfile


class StoredPartnerVersion(Model):
    """The profile as stored (licensor's evaluation and risk flags, the new version), or,
    when the partner is not stored in Postgres (`stored` false), the profile as given."""

    profile: PartnerProfile
    stored: bool = True
