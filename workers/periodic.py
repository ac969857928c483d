"""Background sweeps of a worker: run a round every `interval` seconds until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


async def every(
    interval: float, stop: asyncio.Event, round_: Callable[[], Awaitable[object]], name: str
) -> None:
    """Run `round_` now and every `interval` seconds until `stop` is set; a failed round
    (e.g. the database unreachable) is logged as `<name>.failed` and the next one runs."""
    while not stop.is_set():
        try:
            await round_()
        except Exception:
            log.exception(f"{name}.failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
