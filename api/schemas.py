"""Response bodies of the API that are not domain models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain import bounds, limits
from domain.common import Code, Identifier, Text, UserName
from domain.deal import Needs, Plan
from domain.partner import PartnerProfile
from domain.rate_cards import RowRoyalty


class DealCreated(BaseModel):
    deal_id: str
    workflow_id: str
    run_id: str


class DealSummary(BaseModel):
    """One row of GET /v1/deals (from the read model; from Temporal visibility while an
    open deal predates it)."""

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
    """A royalty statement: an invoice (`amount_due` > 0), a credit note (< 0) or a
    statement with nothing due (already `paid`)."""

    statement_id: str
    deal_id: str
    kind: str
    contract_year: int
    period: int | None
    net_sales: Decimal
    royalty_earned: Decimal
    guaranteed_due: Decimal
    unlicensed_royalty: Decimal
    amount_due: Decimal
    currency: str
    issued_at: datetime
    due_at: datetime
    invoice_number: str | None = Field(
        description="`<licensor>-000001`, gap-free per licensor; none when nothing is due"
    )
    status: Literal["open", "paid", "void"]
    paid_at: datetime | None
    paid_amount: Decimal
    balance: Decimal = Field(description="`amount_due` minus `paid_amount`")
    overdue: bool = Field(description="open and past `due_at`")
    breakdown: list[RowRoyalty] = Field(
        default_factory=list,
        description="deals with a rate card: which row applied (`row` index in"
        " `terms.rate_card`, null for `royalty_tiers`), to what net sales or units, for how"
        " much royalty (the change for period statements, the year for true-up and final)",
    )

    @classmethod
    def of(cls, row: Mapping[str, Any], now: datetime, **extra: Any) -> Self:
        """From a `store.statements` row (with `paid_amount`), as of `now`."""
        return cls.model_validate(
            {
                **row,
                "balance": row["amount_due"] - row["paid_amount"],
                "overdue": row["status"] == "open" and row["due_at"] < now,
                **extra,
            }
        )


class PaymentOut(BaseModel):
    id: int
    amount: Decimal
    received_at: datetime
    reference: str
    recorded_by: str
    recorded_at: datetime


class StatementDetail(StatementOut):
    """A statement with the payments received against it."""

    payments: list[PaymentOut] = Field(default_factory=list)


PaymentReference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_REFERENCE, strip_whitespace=True),
    bounds.text(limits.SINGLE_LINE),
    bounds.SchemaHint.of({"pattern": limits.SINGLE_LINE}),
]


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give a time zone offset (for example 2027-01-01T00:00:00Z)")


class PaymentBody(BaseModel):
    """A payment received: `amount` in the statement's currency at its minor unit, with the
    sign of the amount due (negative for a credit note); `reference` (the bank reference)
    makes a repeated POST idempotent; `received_at` defaults to now."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[Decimal, *bounds.number(maximum=limits.MAX_AMOUNT, decimals=3)] = Field(
        ge=-limits.MAX_AMOUNT
    )
    received_at: Annotated[datetime, bounds.edge(_aware)] | None = None
    reference: PaymentReference


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
    status: Literal["accepted", "late", "adjustment", "duplicate"]
    """What happens to the report: `accepted` (checked when its period ends), `late` (the
    period was marked missing; invoiced at once), `adjustment` (the period was billed or
    its year settled: the difference is invoiced or credited), `duplicate` (nothing)."""


class WebhookResult(BaseModel):
    status: str
    envelope_status: str | None = None
