"""Bounded polling for eventually-consistent reads (visibility, queries, async audit rows)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    condition: Callable[[T], bool],
    *,
    within: float = 15.0,
    interval: float = 0.1,
) -> T:
    """Call `probe` until `condition(result)` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if condition(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last result: {result!r}")
        await asyncio.sleep(interval)
