"""The read-model writer of a workflow run (patch `read-model`): one coroutine that sends
what changed in the workflow's `state` view to Postgres, in order.

`mark()` says something may have changed (after a transition, a history note, a task
change); the writer wakes at most once per activation, asks its `build` for the delta
since the last acknowledged write (None: nothing changed, nothing sent), sends it, and on
success lets `build`'s commit make it the new baseline. Writes never overlap: each waits
for the previous one, so the sequence numbers in the store only grow.

The write runs as a local activity (no task-queue round trip, no history events beyond its
marker). A local activity retries inside the workflow task, so it is given a short budget;
when that runs out (a Postgres outage) the same write goes to the task queue as a normal
activity, retried without cap, while the workflow carries on: an outage delays the read
model, never the deal. A write refused for good (a data error) is logged and not
acknowledged; the next change sends its delta again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

from workflows.activity_options import STORE, call

with workflow.unsafe.imports_passed_through():
    from activities.read_model import ReadModelActivities

__all__ = ["LOCAL_WRITE", "ReadModelActivities", "ReadModelWriter", "write"]

ArgT = TypeVar("ArgT")

LOCAL_WRITE = timedelta(seconds=5)
"""One local attempt's limit; the local tries together get twice that."""
LOCAL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=2),
    non_retryable_error_types=["DataError"],
)

Build = Callable[[], "tuple[Any, Callable[[], None]] | None"]
"""The delta to send and the commit that makes it the baseline; None when nothing changed."""


async def write(method: Callable[[Any, ArgT], Awaitable[Any]], arg: ArgT) -> None:
    """Run the write as a local activity; after its short budget, as a task-queue activity
    retried without cap. A data error (final) is raised at once."""
    try:
        await workflow.execute_local_activity_method(
            method,
            arg,
            start_to_close_timeout=LOCAL_WRITE,
            schedule_to_close_timeout=LOCAL_WRITE * 2,
            retry_policy=LOCAL_RETRY,
        )
        return
    except ActivityError as error:
        cause = error.cause
        if isinstance(cause, CancelledError):
            raise
        if isinstance(cause, ApplicationError) and cause.non_retryable:
            raise
    await call(method, arg, STORE)


class ReadModelWriter:
    """The serial writer of one run; off (every call a no-op) for runs before the patch."""

    def __init__(
        self, method: Callable[[Any, Any], Awaitable[Any]], build: Build, *, on: bool
    ) -> None:
        self._method = method
        self._build = build
        self.on = on
        self._dirty = False
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
            await workflow.wait_condition(lambda: self._dirty or self._stopped)
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
            await write(self._method, arg)
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                raise
            workflow.logger.warning("read-model write refused: %s", error.cause or error)
            return
        commit()
