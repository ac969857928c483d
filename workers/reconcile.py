"""Re-sends the signal of stored sales reports that never reached their deal.

The API stores a report, then signals the deal; if it dies in between or Temporal is down,
the row stays unsignalled. Every worker runs this loop: rows older than `grace` are
signalled again (the deal ignores a second signal for the same version) and marked.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from licenseflow.report_signals import report_of, signal_stored_report
from store import sales
from workers.periodic import every

log = structlog.get_logger(__name__)


class ReportReconciler:
    """Signals stored-but-unsignalled sales reports, every `interval` seconds."""

    def __init__(
        self,
        client: Client,
        pool: asyncpg.Pool,
        *,
        interval: float = 30.0,
        grace: timedelta = timedelta(seconds=30),
        batch: int = 100,
    ) -> None:
        self._client = client
        self._pool = pool
        self._interval = interval
        self._grace = grace
        self._batch = batch

    async def run_until(self, stop: asyncio.Event) -> None:
        await every(self._interval, stop, self.run_once, "reconcile")

    async def run_once(self) -> int:
        """Signal one batch of unsignalled reports; how many were delivered."""
        rows = await sales.unsignalled(self._pool, older_than=self._grace, limit=self._batch)
        delivered = 0
        for row in rows:
            try:
                await signal_stored_report(
                    self._client,
                    self._pool,
                    row["deal_id"],
                    row["report_id"],
                    row["version"],
                    report_of(row),
                )
            except RPCError as exc:
                level = log.info if exc.status == RPCStatusCode.NOT_FOUND else log.warning
                level("reconcile.report_not_signalled", report_id=row["report_id"], error=str(exc))
                continue
            except Exception:
                # one bad row (for example stored before today's bounds) must not stop the rest
                log.exception("reconcile.report_failed", report_id=row["report_id"])
                continue
            delivered += 1
            log.info("reconcile.report_signalled", report_id=row["report_id"])
        return delivered
