"""Overdue invoices to remind, claimed with SKIP LOCKED so several workers share the sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from store.pool import Db


@dataclass(frozen=True)
class Overdue:
    """An open invoice past its due date, and whom to remind (the partner's contact user)."""

    statement_id: str
    deal_id: str
    workflow_id: str
    invoice_number: str
    currency: str
    amount_due: Decimal
    balance: Decimal
    due_at: datetime
    recipient: str


async def claim(db: Db, *, now: datetime, every: timedelta, limit: int) -> list[Overdue]:
    """Inside a transaction: lock up to `limit` open, numbered invoices due before `now`
    whose partner was not reminded within `every`, and set their `reminded_at` to `now`.

    Rows locked elsewhere (another worker's sweep, a payment being recorded) are skipped;
    a row another sweep has just reminded no longer matches once its lock is released.
    Invoices of deals without a partner contact are left alone.
    """
    rows = await db.fetch(
        """
        SELECT s.statement_id, s.deal_id, d.workflow_id, s.invoice_number, s.currency,
               s.amount_due, s.due_at, p.profile->>'contact_user' AS recipient
        FROM statements s
        JOIN deals d ON d.deal_id = s.deal_id
        JOIN partners p ON p.partner_id = d.partner_id
        WHERE s.status = 'open' AND s.invoice_number IS NOT NULL AND s.due_at < $1
          AND (s.reminded_at IS NULL OR s.reminded_at <= $1 - $2::interval)
          AND p.profile->>'contact_user' IS NOT NULL
        ORDER BY s.due_at, s.statement_id
        LIMIT $3
        FOR UPDATE OF s SKIP LOCKED
        """,
        now,
        every,
        limit,
    )
    if not rows:
        return []
    ids = [r["statement_id"] for r in rows]
    await db.execute(
        "UPDATE statements SET reminded_at = $2 WHERE statement_id = ANY($1::text[])", ids, now
    )
    paid = {
        r["statement_id"]: r["paid"]
        for r in await db.fetch(
            "SELECT statement_id, sum(amount) AS paid FROM payments"
            " WHERE statement_id = ANY($1::text[]) GROUP BY statement_id",
            ids,
        )
    }
    return [
        Overdue(**dict(r), balance=r["amount_due"] - paid.get(r["statement_id"], Decimal(0)))
        for r in rows
    ]
