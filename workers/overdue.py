"""Reminds partners of overdue invoices, at most once per `every` (7 days) per invoice.

Every worker runs this loop. An invoice is claimed with SKIP LOCKED, marked reminded and
its notification queued in one transaction, so concurrent workers never remind twice; the
notification's idempotency key (statement and reminder day) keeps a repeat harmless.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from store import notifications, overdue
from store.overdue import Overdue
from store.pool import Db, transaction
from workers.periodic import every

log = structlog.get_logger(__name__)

REMIND_EVERY = timedelta(days=7)
KIND = "invoice_overdue"


def reminder_key(invoice: Overdue, now: datetime) -> str:
    return f"invoice-overdue:{invoice.statement_id}:{now.astimezone(UTC).date().isoformat()}"


async def remind_batch(
    db: Db, *, now: datetime, every: timedelta = REMIND_EVERY, limit: int = 100
) -> list[Overdue]:
    """Claim up to `limit` invoices due for a reminder and queue one notification each to
    the partner's contact user, in one transaction on `db`."""
    async with transaction(db) as conn:
        claimed = await overdue.claim(conn, now=now, every=every, limit=limit)
        for invoice in claimed:
            due = invoice.due_at.astimezone(UTC).date().isoformat()
            await notifications.enqueue(
                conn,
                idempotency_key=reminder_key(invoice, now),
                recipient=invoice.recipient,
                kind=KIND,
                subject=f"Invoice {invoice.invoice_number} is overdue",
                body=(
                    f"Invoice {invoice.invoice_number} (deal {invoice.deal_id}) was due on"
                    f" {due}; {invoice.balance} {invoice.currency} of"
                    f" {invoice.amount_due} {invoice.currency} is still open."
                ),
                deal_id=invoice.deal_id,
                workflow_id=invoice.workflow_id,
            )
    return claimed


class OverdueReminders:
    """Sweeps overdue invoices every `interval` seconds."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        interval: float = 900.0,
        every: timedelta = REMIND_EVERY,
        batch: int = 100,
    ) -> None:
        self._pool = pool
        self._interval = interval
        self._every = every
        self._batch = batch

    async def run_until(self, stop: asyncio.Event) -> None:
        await every(self._interval, stop, self.run_once, "overdue")

    async def run_once(self, now: datetime | None = None) -> int:
        """Remind every invoice due for it as of `now` (default: the clock); how many."""
        now = now or datetime.now(UTC)
        total = 0
        while True:
            claimed = await remind_batch(self._pool, now=now, every=self._every, limit=self._batch)
            for invoice in claimed:
                log.info(
                    "overdue.reminded",
                    statement_id=invoice.statement_id,
                    invoice_number=invoice.invoice_number,
                    deal_id=invoice.deal_id,
                    recipient=invoice.recipient,
                )
            total += len(claimed)
            if len(claimed) < self._batch:
                return total
