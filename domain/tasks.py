"""Human tasks (inbox items) opened by workflows, and decisions made on them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from domain.common import HistoryEntry, Model, UserName

INCIDENT_TASK_PREFIX = "incident-"
"""Local ids of incident tasks: `incident-<n>` (ops tokens may decide these only)."""


class TaskKind(StrEnum):
    PLAN_APPROVAL = "plan_approval"
    PARTNER_APPROVAL = "partner_approval"
    SIGNATURE = "signature"
    SIGNATURE_DECISION = "signature_decision"
    REVIEW_DECISION = "review_decision"
    RENEWAL_DECISION = "renewal_decision"
    NEEDS = "needs"
    PARTNER_SELECTION = "partner_selection"
    PLAN_REVISION = "plan_revision"
    PARTNER_REVISION = "partner_revision"
    COMPLIANCE = "compliance"
    """Unlicensed sales in a period: the owner decides `acknowledge`, `dispute` or
    `notice_of_breach` (an early review follows)."""
    INCIDENT = "incident"
    """A deal blocked by a failed activity: ops decide `retry` or `terminate`."""


class Task(Model):
    """An open or closed human task. `task_id` is unique across all workflows."""

    task_id: str
    kind: TaskKind
    deal_id: str
    workflow_id: str
    title: str
    assignees: list[UserName]
    opened_at: datetime
    due_at: datetime
    allowed_decisions: list[str]
    step: str | None = None
    version: int = 1
    closed_at: datetime | None = None
    outcome: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
