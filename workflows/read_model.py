"""The read-model writer of a workflow run (patch `read-model`): one coroutine that sends
what changed in the workflow's `state` view to Postgres, in order.

`mark()` says something may have changed (after a transition, a history note, a task
change); the writer wakes at most once per activation, asks its `build` for the delta
since the last acknowledged write (None: nothing changed, nothing sent), sends it, and on
success lets `build`'s commit make it the new baseline. Writes never overlap: each waits
for the previous one, so the sequence numbers in the store only grow.

The write runs as a local activity (no task-queue round trip, no history events beyond its
marker), once (`activity_options.call_local`); when that attempt fails (a Postgres outage)
the same write goes to the task queue as a normal activity, retried without cap, while the
workflow carries on: an outage delays the read model, never the deal. A write refused for
good (a data error) is logged and not acknowledged; the next change sends its delta again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

from workflows.activity_options import STORE, call_local

with workflow.unsafe.imports_passed_through():
    from activities.read_model import ReadModelActivities

__all__ = ["ReadModelActivities", "ReadModelWriter"]


Build = Callable[[], "tuple[Any, Callable[[], None]] | None"]
"""The delta to send and the commit that makes it the baseline; None when nothing changed."""


class ReadModelWriter:
    """The serial writer of one run; off (every call a no-op) for runs before the patch."""

    def __init__(
        self, method: Callable[[Any, Any], Awaitable[Any]], build: Build, *, on: bool
    ) -> None:
        self._method = method
        self._build = build
        self.on = on
        self._dirty = False
        self._held = 0
        self._busy = False
        self._stopped = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start writing (a run's first write carries everything)."""
        if self.on and self._task is None:
            self._dirty = True
            self._task = asyncio.create_task(self._loop())

    def mark(self) -> None:
        """Something the `state` view shows may have changed."""
        if self.on:
            self._dirty = True

    @contextmanager
    def held(self) -> Iterator[None]:
        """What is marked inside the block is written once, after it: one write for a
        transition made of several steps (a period's check, statement and next period)."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    def settled(self) -> bool:
        """Everything marked so far is written (or was refused for good)."""
        if not self.on or self._task is None or self._task.done():
            return True
        return not self._dirty and not self._busy

    async def flushed(self) -> None:
        """Wait until `settled` (no wait, no yield, when it is already: runs before the
        patch replay their handlers unchanged)."""
        if not self.settled():
            await workflow.wait_condition(self.settled)

    async def stop(self) -> None:
        """Write what is left, then end the writer (before the run completes)."""
        await self.flushed()
        self._stopped = True

    async def _loop(self) -> None:
        while True:
            await workflow.wait_condition(lambda: (self._dirty and not self._held) or self._stopped)
            if self._stopped:
                return
            self._dirty, self._busy = False, True
            try:
                await self._write_once()
            finally:
                self._busy = False

    async def _write_once(self) -> None:
        built = self._build()
        if built is None:
            return
        arg, commit = built
        try:
            await call_local(self._method, arg, STORE)
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                raise
            workflow.logger.warning("read-model write refused: %s", error.cause or error)
            return
        commit()
