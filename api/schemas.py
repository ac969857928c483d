"""Response bodies of the API that are not domain models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import bounds, limits
from domain.common import Code, Identifier, Text, UserName
from domain.deal import Needs, Plan
from domain.partner import PartnerProfile


class DealCreated(BaseModel):
    deal_id: str
    workflow_id: str
    run_id: str


class DealSummary(BaseModel):
    """One row of GET /v1/deals (from Temporal visibility)."""

    deal_id: str
    workflow_id: str
    run_id: str
    status: str | None
    stage: str | None = None
    owner: str | None = None
    partner_id: str | None = None
    kpi_status: str | None = None
    started_at: datetime
    closed_at: datetime | None = None


class TerminateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(min_length=1)


class StatementOut(BaseModel):
    statement_id: str
    kind: str
    contract_year: int
    period: int | None
    net_sales: Decimal
    royalty_earned: Decimal
    guaranteed_due: Decimal
    amount_due: Decimal
    currency: str
    issued_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    deal_id: str | None
    workflow_id: str | None
    subject: str | None
    detail: dict[str, Any]


class TaskOut(BaseModel):
    """An open task of the caller (GET /v1/tasks)."""

    task_id: str
    kind: str
    deal_id: str
    title: str
    due_at: datetime
    allowed_decisions: list[str]


class DecisionBody(BaseModel):
    """A decision on a task, with what the decision carries: `delegate_to` (delegate),
    `plan` (amend, revise), `renew_periods` (renew), `profile` (resubmit), `needs` (submit),
    `partners` (add_partners)."""

    model_config = ConfigDict(extra="forbid")

    decision: Code
    comment: Text | None = None
    delegate_to: UserName | None = None
    plan: Plan | None = None
    renew_periods: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] | None = Field(
        default=None, ge=1
    )
    profile: PartnerProfile | None = None
    needs: Needs | None = None
    partners: Annotated[list[Identifier], *bounds.max_items(limits.MAX_IDS)] | None = Field(
        default=None, min_length=1
    )


class DecisionResult(BaseModel):
    task_id: str
    workflow_id: str
    decision: str
    status: Literal["accepted", "recorded", "duplicate"]
    envelope_status: str | None = None
    state: dict[str, Any] | None = None


class SalesReportAccepted(BaseModel):
    report_id: str
    deal_id: str
    period: int
    version: int
    status: Literal["accepted", "duplicate"]


class WebhookResult(BaseModel):
    status: str
    envelope_status: str | None = None
