"""Statement rows as API bodies: balance, overdue flag and (for details) the payments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.schemas import PaymentOut, StatementDetail
from store import payments
from store.pool import Db


async def with_payments(db: Db, rows: list[dict[str, Any]], now: datetime) -> list[StatementDetail]:
    """Each `store.statements` row with its payments, in the order of `rows`."""
    found = await payments.for_statements(db, [r["statement_id"] for r in rows])
    return [
        StatementDetail.of(row, now, payments=[PaymentOut(**p) for p in found[row["statement_id"]]])
        for row in rows
    ]
