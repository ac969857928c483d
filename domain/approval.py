"""Partner approval: screening settings, approver chain, decisions and the result."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from domain import bounds, limits
from domain.common import Code, Identifier, LicensedScope, Model, Text, UserName
from domain.durations import IsoDuration
from domain.partner import PartnerProfile
from domain.tasks import Task

ApprovalOutcome = Literal["approved", "rejected", "withdrawn"]
"""How a partner approval ended (PartnerApprovalResult.outcome)."""


class ApprovalStep(Model):
    """One step of the approver chain; quorum `all` needs every approver to approve."""

    step: Code
    approvers: Annotated[list[UserName], *bounds.max_items(limits.MAX_IDS)] = Field(min_length=1)
    quorum: Literal["any", "all"] = "any"
    escalate_to: UserName | None = None


class ScreeningWeights(Model):
    cost: float = Field(default=1.0, ge=0)
    quality: float = Field(default=1.0, ge=0)
    efficiency: float = Field(default=1.0, ge=0)
    complementarity: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> ScreeningWeights:
        if self.cost + self.quality + self.efficiency + self.complementarity <= 0:
            raise ValueError("at least one screening weight must be positive")
        return self


class ScreeningSettings(Model):
    weights: ScreeningWeights = Field(default_factory=ScreeningWeights)
    pass_mark: float = Field(default=3.0, ge=1, le=5)
    minimum_insurance: float = Field(default=1_000_000, ge=0)


class ScreeningResult(Model):
    passed: bool
    score: float
    reasons: list[str] = Field(default_factory=list)
    """Every reason the partner failed; empty when passed."""


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    NEEDS_REVISION = "needs_revision"
    DELEGATE = "delegate"
    RESUBMIT = "resubmit"
    """On a partner_revision task only: `profile` carries the revised partner profile."""
    RETRY = "retry"
    """On an incident task only: run the failed activity again (after a fix)."""


class DecideInput(Model):
    """Update/signal `decide` on PartnerApproval: a decision on its open task."""

    decided_by: UserName
    decision: Decision
    comment: Text | None = None
    delegate_to: UserName | None = None
    task_id: str | None = None
    """Optional guard: the task the caller saw; stale ids are refused."""
    profile: PartnerProfile | None = None
    """The revised profile, with `resubmit`."""


class ResubmitInput(Model):
    """Update `resubmit`: a revised partner profile after needs_revision."""

    submitted_by: UserName
    profile: PartnerProfile
    comment: Text | None = None


class PartnerApprovalInput(Model):
    deal_id: Identifier
    partner: PartnerProfile
    scope: LicensedScope
    requester: UserName
    chain: list[ApprovalStep] = Field(min_length=1)
    screening: ScreeningSettings = Field(default_factory=ScreeningSettings)
    decision_sla: IsoDuration = "P5D"
    version: int = 1
    conflicted: list[str] = Field(default_factory=list)
    """Who may not decide a step nor be delegated to (separation of duties): the deal
    owner and every user bound to the partner, filled by the deal (patch
    `partner-approval-v2`) from the users directory, so not bounded like people's input;
    the requester is always excluded too."""


class TrailEntry(Model):
    """One entry of the decision trail, as written to the audit log."""

    at: datetime
    version: int
    step: str
    actor: str
    decision: str
    comment: str | None = None
    delegate_to: str | None = None
    applied: bool = True
    note: str | None = None


class PartnerApprovalResult(Model):
    deal_id: str
    partner_id: str
    outcome: ApprovalOutcome
    score: float
    reasons: list[str] = Field(default_factory=list)
    version: int = 1
    trail: list[TrailEntry] = Field(default_factory=list)


class PartnerApprovalState(Model):
    """The `state` query of PartnerApproval."""

    deal_id: str
    partner_id: str
    status: str
    version: int
    screening: ScreeningResult | None = None
    current_step: str | None = None
    open_tasks: list[Task] = Field(default_factory=list)
    trail: list[TrailEntry] = Field(default_factory=list)
    result: PartnerApprovalResult | None = None
