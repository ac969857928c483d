"""Activity options per kind of activity, shared by every workflow, and typed calls.

Workflows call activities by reference (`DealActivities.check_sales`), never by name; the
activity classes are imported through the sandbox untouched (they are not run there).

Retry: transient failures retry without an attempt cap, backing off to one try every 30 s,
so an outage of any length delays a deal but never fails it. Business and data refusals
are non-retryable `ApplicationError`s and reach the workflow at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.approval import ApprovalActivities
    from activities.common import CommonActivities
    from activities.deal import DealActivities
    from activities.directory import DirectoryActivities
    from activities.signing import SigningActivities

__all__ = [
    "EXTERNAL",
    "LOOKUP",
    "STORE",
    "ActivityOptions",
    "ApprovalActivities",
    "CommonActivities",
    "DealActivities",
    "DirectoryActivities",
    "SigningActivities",
    "call",
    "call_local",
    "call_or_park",
    "failure_text",
]

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")

RETRY_WITHOUT_CAP = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)


@dataclass(frozen=True)
class ActivityOptions:
    """Timeout and retry of one kind of activity."""

    start_to_close: timedelta
    retry: RetryPolicy = field(default_factory=lambda: RETRY_WITHOUT_CAP)


STORE = ActivityOptions(start_to_close=timedelta(seconds=30))
"""Postgres writes: read model, statements, audit rows, the notification outbox."""
LOOKUP = ActivityOptions(start_to_close=timedelta(seconds=30))
"""Postgres reads and checks: partner profile, partner users, screening, sales check,
review pack."""
EXTERNAL = ActivityOptions(start_to_close=timedelta(seconds=30))
"""Calls to outside providers: the e-signature envelope."""

LOCAL_ATTEMPT = timedelta(seconds=5)
"""The limit of the one local attempt `call_local` makes."""
REFUSALS = ("DataError",)
"""Failure types that are final for a local attempt too (a data error fails again)."""
LOCAL_ONCE = RetryPolicy(maximum_attempts=1, non_retryable_error_types=list(REFUSALS))


def failure_text(error: ActivityError) -> str:
    """A final activity failure as ops should read it: the activity's own message."""
    cause = error.cause
    if isinstance(cause, ApplicationError):
        return f"{cause.type or 'Error'}: {cause.message}"
    return str(cause or error)


async def call_or_park(
    method: Callable[[Any, ArgT], Awaitable[ResultT]],
    arg: ArgT,
    options: ActivityOptions,
    park: Callable[[str, ActivityError], Awaitable[None]],
    *,
    local: bool = False,
) -> ResultT:
    """The activity's result (`local`: tried as a local activity first, `call_local`); a
    final failure awaits `park` (ops decide) and runs it again. A cancellation (the
    workflow is being cancelled) is not parked."""
    while True:
        try:
            if local:
                return await call_local(method, arg, options)
            return await call(method, arg, options)
        except ActivityError as error:
            if isinstance(error.cause, CancelledError):
                raise
            await park(getattr(method, "__name__", "activity"), error)


async def call_local(
    method: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT, options: ActivityOptions
) -> ResultT:
    """Run a short, idempotent Postgres activity as a local activity: one attempt, no
    task-queue round trip, one marker event instead of three events and a workflow task.
    A refusal (non-retryable) is raised as the `ActivityError` a task-queue activity gives;
    any other failure (an outage, a timeout) sends the call to the task queue with the
    options of its kind, retried without cap, as if it had gone there first."""
    try:
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=LOCAL_ATTEMPT, retry_policy=LOCAL_ONCE
        )
    except ApplicationError as failed:
        # a local activity's final failure reaches the workflow unwrapped (SDK 1.35)
        if failed.non_retryable or failed.type in REFUSALS:
            raise ActivityError(
                "Local activity failed",
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=getattr(method, "__name__", "activity"),
                activity_id="",
                retry_state=RetryState.NON_RETRYABLE_FAILURE,
            ) from failed
    except ActivityError as error:
        if isinstance(error.cause, CancelledError):
            raise
    return await call(method, arg, options)


async def call(
    method: Callable[[Any, ArgT], Awaitable[ResultT]], arg: ArgT, options: ActivityOptions
) -> ResultT:
    """Run one activity method with the options of its kind."""
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=options.start_to_close, retry_policy=options.retry
    )
