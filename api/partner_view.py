"""What a licensee sees of a deal or of its partner approval: its own part, not the
licensor's internal workings (no request, history, approval trail, comments, approver names
or screening scores)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from api.schemas import StatementDetail
from domain.amendments import PlanAmendment
from domain.approval import PartnerApprovalState
from domain.deal import RateCardRow, RoyaltyTier, Terms, UnlicensedPolicy
from domain.deal_state import DealState
from domain.invoices import unrecouped_advance
from domain.tasks import Task
from store.tokens import Principal


def _unset(value: object) -> bool:
    return not value


class PartnerTerms(BaseModel):
    """The deal's money terms as the licensee sees them (terms added after the first
    release are left out at their defaults, so older deals read as before)."""

    currency: str
    royalty_tiers: list[RoyaltyTier]
    rate_card: list[RateCardRow] = Field(
        default_factory=list,
        exclude_if=_unset,
        description="royalty per scope cell: the most specific matching row applies to a"
        " sale, else `royalty_tiers`",
    )
    advance: Decimal
    advance_recoupable_across_term: bool = Field(default=False, exclude_if=_unset)
    unrecouped_advance: Decimal = Field(
        description="advance minus the royalty earned in contract year 1 so far, at least 0;"
        " recoupable across the term: what is still to recoup after the latest contract year"
    )
    minimum_guarantee_per_year: Decimal
    minimum_guarantee_schedule: list[Decimal] = Field(
        default_factory=list,
        exclude_if=_unset,
        description="MG of contract years 1, 2, ... (later years: the last entry)",
    )
    payment_terms: str = Field(description="ISO 8601 duration from issue to due date")
    unlicensed: UnlicensedPolicy
    sell_off: str | None = Field(
        default=None, exclude_if=_unset, description="sell-off period after the term"
    )


class DealView(DealState):
    """GET /v1/deals/{id}: the deal's state; for its licensee also `terms` and `invoices`
    (staff read the terms in `request` and the invoices at /v1/statements)."""

    terms: PartnerTerms | None = None
    invoices: list[StatementDetail] | None = None
    """The licensee's statements of this deal with their payments, soonest due first."""


def full_view(state: DealState) -> DealView:
    """The state as it is, for the licensor's people."""
    return DealView.model_construct(**dict(state))


def year_earned(state: DealState, contract_year: int) -> Decimal:
    """Royalty earned in a contract year so far: the closed year's total, else the sum of
    its periods."""
    for year in state.years:
        if year.contract_year == contract_year:
            return year.royalty_earned
    periods = (p.royalty_earned for p in state.periods if p.contract_year == contract_year)
    return sum(periods, Decimal(0))


def partner_terms(terms: Terms, state: DealState) -> PartnerTerms:
    unrecouped = state.advance_unrecouped
    if unrecouped is None:
        unrecouped = unrecouped_advance(terms.advance, year_earned(state, 1))
    return PartnerTerms(
        currency=terms.currency,
        royalty_tiers=terms.royalty_tiers,
        rate_card=terms.rate_card,
        advance=terms.advance,
        advance_recoupable_across_term=terms.advance_recoupable_across_term,
        unrecouped_advance=unrecouped,
        minimum_guarantee_per_year=terms.minimum_guarantee_per_year,
        minimum_guarantee_schedule=terms.minimum_guarantee_schedule,
        payment_terms=terms.payment_terms,
        unlicensed=terms.unlicensed,
        sell_off=terms.sell_off,
    )


def partner_view(
    state: DealState, who: Principal, invoices: list[StatementDetail] | None = None
) -> DealView:
    """The deal without the request (other candidates, approval chain, approvers), the
    internal history, tasks that are not the caller's, and amendments never sent to the
    licensee; with the money terms and the caller's invoices instead."""
    hidden = state.model_copy(
        update={
            "request": None,
            "history": [],
            "open_tasks": [t for t in state.open_tasks if who.user in t.assignees],
            "amendment": licensee_amendment(state.amendment),
            # an incident's text is for ops (a rights incident names another licensee's deal)
            "incident": None,
            # who ended the deal is the licensor's business; that and why it ended is not
            "wind_down": state.wind_down.model_copy(update={"by": None})
            if state.wind_down
            else None,
        }
    )
    return DealView.model_construct(
        **dict(hidden),
        terms=partner_terms(state.request.terms, state) if state.request else None,
        invoices=invoices,
    )


def licensee_amendment(amendment: PlanAmendment | None) -> PlanAmendment | None:
    """An amendment the licensee was asked to sign (its envelope was sent), without who
    approved it internally; None for one still under internal approval or ended there."""
    if amendment is None or amendment.envelope_id is None:
        return None
    return amendment.model_copy(update={"approved_by": None, "decision": None, "signature": None})


class PartnerApprovalView(BaseModel):
    """A partner approval as its partner's users see it (decision replies): where it
    stands and the caller's own open tasks."""

    deal_id: str
    partner_id: str
    status: str
    version: int
    open_tasks: list[Task] = Field(default_factory=list)
    """The caller's open tasks (a revision request), without their internal history."""


def partner_approval_view(state: PartnerApprovalState, who: Principal) -> PartnerApprovalView:
    """No trail (who decided what, their comments), screening score or reasons, result,
    current step, approvers or others' tasks."""
    mine = [
        t.model_copy(update={"assignees": [who.user], "history": []})
        for t in state.open_tasks
        if who.user in t.assignees
    ]
    return PartnerApprovalView(
        deal_id=state.deal_id,
        partner_id=state.partner_id,
        status=state.status,
        version=state.version,
        open_tasks=mine,
    )
