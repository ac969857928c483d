"""Drains the notification outbox: claim due rows, deliver each, record sent or failed.

Several dispatchers (one per worker process) may run at once. Rows are claimed in batches
with SKIP LOCKED and leased; before each attempt after the first of a batch the dispatcher
renews the row's lease under its claim's fencing token (store/notifications.py), and skips the
row when the lease ran out and another dispatcher claimed it. An attempt is bounded by
`delivery_timeout` < `lease` (one that timed out, its transport perhaps still sending, is
retried a lease later at the earliest), and recording its result is fenced the same way, so
two dispatchers never deliver a row at the same time and a sent row is never claimed again.

Delivery is still at-least-once, not exactly-once: a dispatcher that dies (or stalls past its
lease) after the transport accepted a message and before the row is marked sent leaves the
row due again after the lease. The e-mail's Message-ID (`<notification-{id}@domain>`) is the
same on every attempt, so the receiver can drop the repeat.
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
                await notifications.release(self._pool, batch[index:])
                break
            # the first row's lease has just begun; later ones may have waited up to
            # (batch - 1) delivery timeouts, longer than the lease: renew, or skip if taken over
            if index and not await notifications.renew(self._pool, note, lease=self._lease):
                log.info("notification.claim_lost", notification_id=note.id, before="delivery")
                continue
            await self._deliver(note)
        return len(batch)

    async def _deliver(self, note: Claimed) -> None:
        bound = log.bind(notification_id=note.id, kind=note.kind, attempt=note.attempts)
        deadline = asyncio.timeout(self._delivery_timeout)
        try:
            async with deadline:
                await self._transport.deliver(note)
        except PermanentDeliveryError as exc:
            if await self._failed(note, str(exc), retry_in=None):
                bound.warning("notification.failed", error=str(exc), permanent=True)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            retry_in = None
            if note.attempts < self._max_attempts:
                retry_in = backoff(note.attempts, base=self._retry_base, cap=self._retry_cap)
                if deadline.expired():  # the transport may still be sending (SMTP runs in a
                    retry_in = max(retry_in, self._lease)  # thread): not before a lease passes
            if not await self._failed(note, error, retry_in=retry_in):
                return
            if retry_in is None:
                bound.error("notification.failed", error=error, permanent=False, gave_up=True)
            else:
                bound.warning("notification.retry", error=error, retry_in=str(retry_in))
            return
        if not await notifications.mark_sent(self._pool, note.id, claim=note.claim):
            # delivered after the lease ran out and another dispatcher claimed the row: it may
            # be delivered again, with the same Message-ID
            bound.warning("notification.claim_lost", before="recording", delivered=True)

    async def _failed(self, note: Claimed, error: str, *, retry_in: timedelta | None) -> bool:
        """Record a failed attempt; False (logged) when the claim was lost meanwhile."""
        status = await notifications.mark_failed(
            self._pool, note.id, error, retry_in=retry_in, claim=note.claim
        )
        if status is None:
            log.info(
                "notification.claim_lost", notification_id=note.id, before="recording", error=error
            )
        return status is not None
