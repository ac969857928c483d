"""LicensingDeal messages from people and systems: update and signal inputs, decisions.

Every task decision goes to the one `decide` update (or its ops signal); the workflow
routes it by the task's kind. Decisions per kind:

| task kind          | decision               | carries                      |
|--------------------|------------------------|------------------------------|
| needs              | submit                 | `needs`                      |
| plan_approval      | approve, reject        | `comment` (reject)           |
| plan_revision      | revise                 | `plan`, optional `comment`   |
| partner_selection  | add_partners           | `partners`                   |
| signature_decision | resend, cancel         |                              |
| review_decision    | continue, amend, terminate | `plan` (amend)           |
| renewal_decision   | renew, expire          | `renew_periods` (renew)      |

Signature tasks (`sign`, `decline`) are settled by the e-signature provider's events.
A review's `amend` opens a `plan_approval` task `amendment-<n>` (approve, reject) and, for a
scope or KPI change, a signature task `amendment-<n>-signature` (`domain.amendments`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from domain import bounds, limits
from domain.common import Code, Identifier, Model, Text, UserName
from domain.deal import Needs, Plan
from domain.sales import SalesReport
from domain.tasks import TaskKind

PLAN_DECISIONS = ["approve", "reject"]
REVIEW_DECISIONS = ["continue", "amend", "terminate"]
RENEWAL_DECISIONS = ["renew", "expire"]
COMPLIANCE_DECISIONS = ["acknowledge", "dispute", "notice_of_breach"]
SIGNATURE_DECISIONS = ["sign", "decline"]
SIGNATURE_DECLINE_DECISIONS = ["resend", "cancel"]
"""The owner's choice after a declined signature: a new envelope, or cancel the deal."""
SUBMIT_NEEDS = "submit"
REVISE_PLAN = "revise"
ADD_PARTNERS = "add_partners"

OWNER_INPUTS: dict[TaskKind, tuple[str, str]] = {
    TaskKind.NEEDS: (SUBMIT_NEEDS, "needs"),
    TaskKind.PLAN_REVISION: (REVISE_PLAN, "plan"),
    TaskKind.PARTNER_SELECTION: (ADD_PARTNERS, "partners"),
}
"""Owner-input task kinds: the decision each takes and the input field it needs."""


class TaskDecisionInput(Model):
    """Update `decide` (wire name `decide_task`) and its signal: a decision on any task of
    the deal; see the table in this module's docstring."""

    task_id: str
    decided_by: UserName
    decision: Code
    comment: Text | None = None
    plan: Plan | None = None
    renew_periods: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] | None = Field(
        default=None, ge=1
    )
    needs: Needs | None = None
    partners: Annotated[list[Identifier], *bounds.max_items(limits.MAX_IDS)] | None = Field(
        default=None, min_length=1
    )


class SubmitNeedsInput(Model):
    """Update `submit_needs` (kept for running deals; the API uses `decide`)."""

    submitted_by: UserName
    needs: Needs


class RevisePlanInput(Model):
    """Update `revise_plan` (kept for running deals; the API uses `decide`)."""

    submitted_by: UserName
    plan: Plan
    comment: Text | None = None


class AddPartnersInput(Model):
    """Update `add_partners` (kept for running deals; the API uses `decide`)."""

    submitted_by: UserName
    partners: Annotated[list[Identifier], *bounds.max_items(limits.MAX_IDS)] = Field(min_length=1)


class SignatureEvent(Model):
    """Signal `signature_completed` / `signature_declined` from the signing webhook path."""

    envelope_id: str
    event: Literal["completed", "declined", "voided", "sent", "delivered"]
    at: datetime
    by: str | None = None
    reason: str | None = None


class SalesReportReceived(Model):
    """Signal `sales_report_received`: a report version is stored in Postgres. The signal
    carries its id, version, period and totals only; the check activity reads the lines,
    so a deal's history stays small however many corrections it gets."""

    report_id: str
    version: int = 1
    period: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] | None = Field(
        default=None, ge=1
    )
    lines: int = 0
    net_sales: Decimal = Decimal(0)
    report: SalesReport | None = None
    """The whole report, as earlier releases sent it; still read from their histories."""

    @model_validator(mode="after")
    def _names_its_period(self) -> SalesReportReceived:
        if self.period is None and self.report is None:
            raise ValueError("a received report names its period")
        return self

    @property
    def reported_period(self) -> int:
        if self.period is not None:
            return self.period
        assert self.report is not None
        return self.report.period

    @classmethod
    def stored(cls, report_id: str, version: int, report: SalesReport) -> SalesReportReceived:
        """The signal for a stored report version: ids and totals, no lines."""
        return cls(
            report_id=report_id,
            version=version,
            period=report.period,
            lines=len(report.lines),
            net_sales=sum((line.net_sales for line in report.lines), Decimal(0)),
        )


class TerminateInput(Model):
    requested_by: UserName
    reason: Text = Field(min_length=1)
