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
    what: str = "condition",
    tolerate: tuple[type[Exception], ...] = (),
    describe: Callable[[T], str] = repr,
) -> T:
    """Call `probe` until `condition(result)` holds; fail after `within` seconds.

    Errors of the `tolerate` types count as "not yet" (for example a query that reaches a
    run between continue-as-new and its first task); `describe` shortens the last result
    in the failure message.
    """
    deadline = time.monotonic() + within
    last: str = "no result"
    failure: Exception | None = None
    while True:
        try:
            result = await probe()
        except tolerate as error:
            failure = error
        else:
            if condition(result):
                return result
            last, failure = describe(result), None
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what} not met within {within}s; last result: {last}; last error: {failure!r}"
            )
        await asyncio.sleep(interval)
