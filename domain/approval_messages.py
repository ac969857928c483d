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
