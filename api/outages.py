"""Which backend is down right now: one log line when an outage starts, one when it ends.

A request that fails because Postgres or Temporal cannot be reached answers 503 with
Retry-After; the first such failure logs `<backend>.unavailable` and starts a probe that
logs `<backend>.available` once the backend answers again, so a 20-second outage is two log
lines, not a traceback per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5
PROBE_INTERVAL = 2.0

DATABASE_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)
"""Errors meaning "Postgres cannot be reached now". An OSError counts only when raised inside
asyncpg (a missing file elsewhere is a bug), asyncpg's InterfaceError only about the
connection (misuse of the driver is a bug): bugs stay 500s."""

TEMPORAL_DOWN = (
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
)


def backend_down(exc: BaseException) -> str | None:
    """Which backend `exc` says cannot answer now: `postgres`, `temporal`, or `worker` (an
    update nobody answered in time); None for any other error."""
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return "worker"
    if isinstance(exc, RPCError):
        return "temporal" if exc.status in TEMPORAL_DOWN else None
    if isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect"):
        return "temporal"  # the SDK's lazy client could not reach the frontend
    if isinstance(exc, DATABASE_DOWN):
        return "postgres"
    if isinstance(exc, OSError) and _raised_in_asyncpg(exc):
        return "postgres"  # connecting failed (a Unix socket that is gone is FileNotFoundError)
    if isinstance(exc, asyncpg.InterfaceError) and "connection" in str(exc).lower():
        return "postgres"  # "connection was closed in the middle of operation"
    if isinstance(exc, TimeoutError):
        return "postgres"  # the pool could not hand out a connection in time
    return None


def _raised_in_asyncpg(exc: BaseException) -> bool:
    traceback = exc.__traceback__
    while traceback is not None:
        if str(traceback.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        traceback = traceback.tb_next
    return False


class Outages:
    """Outage state per backend, with a probe that notices the recovery."""

    def __init__(self, probes: dict[str, Callable[[], Awaitable[object]]]) -> None:
        self._probes = probes
        self._down: dict[str, asyncio.Task[None]] = {}

    def is_down(self, backend: str) -> bool:
        return backend in self._down

    def report(self, backend: str, error: BaseException) -> None:
        """A request found `backend` unreachable: log it once per outage."""
        if backend in self._down:
            return
        log.warning(f"{backend}.unavailable", error=f"{type(error).__name__}: {error}"[:300])
        self._down[backend] = asyncio.create_task(self._until_up(backend))

    async def _until_up(self, backend: str) -> None:
        probe = self._probes[backend]
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            with contextlib.suppress(Exception):
                await probe()
                break
        self._down.pop(backend, None)
        log.info(f"{backend}.available")

    async def close(self) -> None:
        for task in self._down.values():
            task.cancel()
        self._down.clear()
