"""Royalty statements (invoices and credit notes), keyed by the workflow-made statement id.

A statement that asks for money (amount_due != 0) gets an invoice number when it is stored:
`<licensor>-<n>`, n counting 1, 2, 3, ... per licensor (at least six digits), without gaps.
The number is taken from `invoice_counters` in the transaction that inserts the statement,
so concurrent issuers queue on the counter row, a rollback gives the number back, and an
activity retry (same statement id) takes none. A statement with nothing due is `paid` at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from store.pool import Db, fetch_all, fetch_one, transaction

DEFAULT_LICENSOR = "LF"
DEFAULT_PAYMENT_TERMS = timedelta(days=30)
"""Due date of a statement issued without one (runs started before payment terms)."""
STATUSES = ("open", "paid", "void")

_READ = (
    "s.*, coalesce((SELECT sum(p.amount) FROM payments p"
    " WHERE p.statement_id = s.statement_id), 0) AS paid_amount,"
    " d.owner AS deal_owner, d.partner_id"
)
_FROM = " FROM statements s LEFT JOIN deals d ON d.deal_id = s.deal_id"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A breakdown row for jsonb: amounts as strings (exact), the rest as is."""
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def invoice_number(licensor: str, number: int) -> str:
    """`LF-000042`: the licensor, a dash and the number with at least six digits."""
    return f"{licensor}-{number:06d}"


async def insert(
    db: Db,
    *,
    statement_id: str,
    deal_id: str,
    kind: str,
    contract_year: int,
    period: int | None,
    net_sales: Decimal,
    royalty_earned: Decimal,
    guaranteed_due: Decimal,
    amount_due: Decimal,
    currency: str,
    issued_at: datetime,
    unlicensed_royalty: Decimal = Decimal(0),
    due_at: datetime | None = None,
    detail: dict[str, Any] | None = None,
    licensor: str = DEFAULT_LICENSOR,
    breakdown: list[dict[str, Any]] | None = None,
) -> bool:
    """Insert once, numbered when something is due; False when the statement exists
    already (activity retry: no number is taken). `due_at` None: issued + 30 days.
    `breakdown`: which rate-card row applied to what (`domain.rate_cards.RowRoyalty`)."""
    settled = amount_due == 0
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            """
            INSERT INTO statements (statement_id, deal_id, kind, contract_year, period,
                                    net_sales, royalty_earned, guaranteed_due, amount_due,
                                    unlicensed_royalty, currency, issued_at, due_at, detail,
                                    status, paid_at, breakdown)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                    $17)
            ON CONFLICT (statement_id) DO NOTHING RETURNING statement_id
            """,
            statement_id,
            deal_id,
            kind,
            contract_year,
            period,
            net_sales,
            royalty_earned,
            guaranteed_due,
            amount_due,
            unlicensed_royalty,
            currency,
            issued_at,
            due_at or issued_at + DEFAULT_PAYMENT_TERMS,
            detail or {},
            "paid" if settled else "open",
            issued_at if settled else None,
            [_jsonable(row) for row in breakdown or []],
        )
        if row is None:
            return False
        if not settled:
            number: int = await conn.fetchval(
                "INSERT INTO invoice_counters (licensor, last_number) VALUES ($1, 1)"
                " ON CONFLICT (licensor) DO UPDATE"
                " SET last_number = invoice_counters.last_number + 1 RETURNING last_number",
                licensor,
            )
            await conn.execute(
                "UPDATE statements SET invoice_number = $2 WHERE statement_id = $1",
                statement_id,
                invoice_number(licensor, number),
            )
    return True


async def for_deal(db: Db, deal_id: str) -> list[dict[str, Any]]:
    """A deal's statements in issue order, each with `paid_amount`."""
    return await fetch_all(
        db,
        f"SELECT {_READ}{_FROM} WHERE s.deal_id = $1 ORDER BY s.issued_at, s.statement_id",
        deal_id,
    )


async def get(db: Db, statement_id: str) -> dict[str, Any] | None:
    """One statement with `paid_amount` and its deal's `deal_owner` and `partner_id`."""
    return await fetch_one(db, f"SELECT {_READ}{_FROM} WHERE s.statement_id = $1", statement_id)


async def lock(db: Db, statement_id: str) -> dict[str, Any] | None:
    """The statement row locked for update (inside a transaction) with `paid_amount`."""
    row = await fetch_one(
        db, "SELECT * FROM statements WHERE statement_id = $1 FOR UPDATE", statement_id
    )
    if row is None:
        return None
    paid = await db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM payments WHERE statement_id = $1", statement_id
    )
    return {**row, "paid_amount": paid}


async def settle(db: Db, statement_id: str) -> None:
    """Mark the statement paid, as of the latest payment received."""
    await db.execute(
        "UPDATE statements SET status = 'paid', paid_at = (SELECT max(received_at)"
        " FROM payments WHERE statement_id = $1) WHERE statement_id = $1",
        statement_id,
    )


@dataclass(frozen=True)
class Scope:
    """Whose statements a caller may list: every one, or those of deals it owns or licenses."""

    everything: bool = False
    owner: str | None = None
    partner_id: str | None = None


async def listing(
    db: Db,
    scope: Scope,
    *,
    now: datetime,
    status: str | None = None,
    deal_id: str | None = None,
    partner_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Statements in `scope`, soonest due first; `status` is one of STATUSES or `overdue`
    (open and due before `now`)."""
    where: list[str] = []
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if status == "overdue":
        where.append(f"s.status = 'open' AND s.due_at < {arg(now)}")
    elif status is not None:
        where.append(f"s.status = {arg(status)}")
    if deal_id is not None:
        where.append(f"s.deal_id = {arg(deal_id)}")
    if partner_id is not None:
        where.append(f"d.partner_id = {arg(partner_id)}")
    if not scope.everything:
        mine = [f"d.owner = {arg(scope.owner)}"] if scope.owner else []
        if scope.partner_id:
            mine.append(f"d.partner_id = {arg(scope.partner_id)}")
        where.append("(" + " OR ".join(mine or ["false"]) + ")")
    sql = f"SELECT {_READ}{_FROM}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY s.due_at, s.statement_id LIMIT {arg(limit)}"
    return await fetch_all(db, sql, *args)
