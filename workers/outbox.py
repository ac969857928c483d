"""Drains the notification outbox: claim due rows, deliver each, record sent or failed.

Several dispatchers (one per worker process) may run at once: rows are claimed with
SKIP LOCKED and leased, so each attempt belongs to one dispatcher. Delivery is at-least-once:
a dispatcher that dies between delivering and recording leaves the row due after its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import structlog

from store import notifications
from store.notifications import Claimed
from workers.notify_transports import PermanentDeliveryError, Transport

log = structlog.get_logger(__name__)


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: base * 2^(attempts-1), capped."""
    delay: timedelta = base * (2 ** max(attempts - 1, 0))
    return min(delay, cap)


class OutboxDispatcher:
    """Delivers pending notifications through `transport` until told to stop."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        transport: Transport,
        *,
        interval: float = 5.0,
        batch: int = 20,
        max_attempts: int = 8,
        retry_base: timedelta = timedelta(seconds=30),
        retry_cap: timedelta = timedelta(hours=1),
        delivery_timeout: float = 60.0,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        if batch < 1 or max_attempts < 1 or interval <= 0:
            raise ValueError("batch and max_attempts must be >= 1, interval > 0")
        if lease.total_seconds() <= delivery_timeout:
            raise ValueError("the lease must outlast one delivery attempt")
        self._pool = pool
        self._transport = transport
        self._interval = interval
        self._batch = batch
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._delivery_timeout = delivery_timeout
        self._lease = lease

    async def run_until(self, stop: asyncio.Event) -> None:
        """Deliver batches back to back while there is work; when idle, wait `interval`."""
        log.info("outbox.started", batch=self._batch, interval=self._interval)
        while not stop.is_set():
            try:
                claimed = await self.run_once(stop)
            except Exception:
                log.exception("outbox.batch_failed")  # e.g. database unreachable: retry later
                claimed = 0
            if claimed < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)
        log.info("outbox.stopped")

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed.

        When `stop` is set mid-batch, the rows not yet attempted are released (due now).
        """
        batch = await notifications.claim_due(self._pool, self._batch, lease=self._lease)
        for index, note in enumerate(batch):
            if stop is not None and stop.is_set():
                await notifications.release(self._pool, [n.id for n in batch[index:]])
                break
            await self._deliver(note)
        return len(batch)

    async def _deliver(self, note: Claimed) -> None:
        bound = log.bind(notification_id=note.id, kind=note.kind, attempt=note.attempts)
        try:
            async with asyncio.timeout(self._delivery_timeout):
                await self._transport.deliver(note)
        except PermanentDeliveryError as exc:
            await notifications.mark_failed(self._pool, note.id, str(exc), retry_in=None)
            bound.warning("notification.failed", error=str(exc), permanent=True)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry_in = None
            if note.attempts < self._max_attempts:
                retry_in = backoff(note.attempts, base=self._retry_base, cap=self._retry_cap)
            await notifications.mark_failed(self._pool, note.id, error, retry_in=retry_in)
            if retry_in is None:
                bound.error("notification.failed", error=error, permanent=False, gave_up=True)
            else:
                bound.warning("notification.retry", error=error, retry_in=str(retry_in))
            return
        await notifications.mark_sent(self._pool, note.id)
