"""Statements as invoices: the list (by status, deal, partner), one statement with its
payments, and recording a payment (admin or finance)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from api.auth import require_role
from api.deps import Caller, Svc, write_audit
from api.gates import allow
from api.invoices import with_payments
from api.params import ID_PATTERN
from api.problems import ProblemError, conflict, forbidden, invalid, not_found
from api.routing import AuthorizeFirstRoute
from api.schemas import PaymentBody, StatementDetail, StatementOut
from domain.invoices import payment_problem
from store import payments, statements
from store.pool import transaction
from store.statements import Scope
from store.tokens import Principal

router = APIRouter(prefix="/v1/statements", tags=["statements"], route_class=AuthorizeFirstRoute)

StatementId = Annotated[str, Path(min_length=3, max_length=300, pattern=r"^[A-Za-z0-9._:-]+$")]
"""`<deal_id>:<key>`, made by the deal workflow (for example `moon:y1:p3`)."""
READ_EVERY = ("admin", "finance", "ops")
RECORD_PAYMENTS = ("admin", "finance")


def scope_of(who: Principal) -> Scope:
    """Every statement for admin, finance and ops; owners and partners see their deals'."""
    if who.has(*READ_EVERY):
        return Scope(everything=True)
    owner = who.user if who.has("owner") else None
    partner_id = who.partner_id if who.has("partner") else None
    if owner is None and partner_id is None:
        raise forbidden(f"{who.user} may not read statements")
    return Scope(owner=owner, partner_id=partner_id)


def _visible(row: dict[str, Any], scope: Scope) -> bool:
    if scope.everything:
        return True
    if scope.owner is not None and row["deal_owner"] == scope.owner:
        return True
    return scope.partner_id is not None and row["partner_id"] == scope.partner_id


@router.get("", response_model=list[StatementOut])
async def list_statements(
    svc: Svc,
    who: Caller,
    status: Annotated[
        Literal["open", "paid", "void", "overdue"] | None,
        Query(description="`overdue`: open and past its due date"),
    ] = None,
    deal_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    partner_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[StatementOut]:
    """Statements the caller may see, soonest due first: every one for admin, finance and
    ops; owners those of their deals, partners their own."""
    now = datetime.now(UTC)
    rows = await statements.listing(
        svc.pool,
        scope_of(who),
        now=now,
        status=status,
        deal_id=deal_id,
        partner_id=partner_id,
        limit=limit,
    )
    return [StatementOut.of(row, now) for row in rows]


@router.get("/{statement_id}", response_model=StatementDetail)
async def get_statement(statement_id: StatementId, svc: Svc, who: Caller) -> StatementDetail:
    """One statement with its payments and balance."""
    scope = scope_of(who)
    row = await statements.get(svc.pool, statement_id)
    if row is None:
        raise not_found(f"statement {statement_id} does not exist")
    if not _visible(row, scope):
        raise forbidden(f"{who.user} may not see statement {statement_id}")
    return (await with_payments(svc.pool, [row], datetime.now(UTC)))[0]


@router.post(
    "/{statement_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementDetail,
    responses={200: {"description": "This reference was recorded already: nothing changed"}},
    dependencies=[allow(*RECORD_PAYMENTS)],  # before the body is validated: api/gates.py
)
async def record_payment(
    statement_id: StatementId,
    body: PaymentBody,
    request: Request,
    response: Response,
    svc: Svc,
    who: Caller,
) -> StatementDetail:
    """Record money received against a statement (admin or finance): the payment, the
    statement's status (`paid` once the balance is 0) and the audit row in one transaction.
    The same `reference` again with the same amount answers 200 and changes nothing."""
    require_role(who, *RECORD_PAYMENTS)
    now = datetime.now(UTC)
    async with transaction(svc.pool) as conn:
        row = await statements.lock(conn, statement_id)
        if row is None:
            raise not_found(f"statement {statement_id} does not exist")
        earlier = await payments.by_reference(conn, statement_id, body.reference)
        if earlier is not None:
            if earlier["amount"] != body.amount:
                raise ProblemError(
                    409,
                    f"reference {body.reference!r} is recorded with amount {earlier['amount']}",
                    errors=[
                        {"field": "body.reference", "message": "used already", "type": "conflict"}
                    ],
                )
            response.status_code = status.HTTP_200_OK
        else:
            if row["status"] != "open":
                raise conflict(f"statement {statement_id} is {row['status']}")
            problem = payment_problem(
                body.amount,
                amount_due=row["amount_due"],
                paid=row["paid_amount"],
                currency=row["currency"],
            )
            if problem is not None:
                raise invalid("body.amount", problem)
            received_at = body.received_at or now
            await payments.insert(
                conn,
                statement_id=statement_id,
                amount=body.amount,
                received_at=received_at,
                reference=body.reference,
                recorded_by=who.user,
            )
            settled = row["paid_amount"] + body.amount == row["amount_due"]
            if settled:
                await statements.settle(conn, statement_id)
            await write_audit(
                svc,
                request,
                who,
                "statement.payment",
                deal_id=row["deal_id"],
                subject=statement_id,
                detail={
                    "amount": str(body.amount),
                    "currency": row["currency"],
                    "reference": body.reference,
                    "received_at": received_at.isoformat(),
                    "settled": settled,
                },
                db=conn,
            )
        found = await statements.get(conn, statement_id)
        assert found is not None
        return (await with_payments(conn, [found], now))[0]
