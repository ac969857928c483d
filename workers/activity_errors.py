"""Activity failures sorted into transient (retried without cap) and data errors (final).

A database that cannot be reached, a timeout or a provider outage is retried by Temporal
until it answers. A value the database refuses (numeric overflow, a NUL byte), stored data
that no longer validates, or arithmetic that cannot be done will fail the same way on every
attempt: it becomes a non-retryable `ApplicationError` of type `DataError`, and the deal
workflow parks itself visibly for ops instead of retrying forever or failing.
"""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any

import asyncpg
import pydantic
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

DATA_ERROR = "DataError"

DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    pydantic.ValidationError,
    InvalidOperation,
    OverflowError,
)


def as_final(exc: BaseException) -> BaseException:
    """`exc` as Temporal should see it: a data error becomes non-retryable."""
    if isinstance(exc, DATA_ERRORS) and not isinstance(exc, ApplicationError):
        return ApplicationError(
            f"{type(exc).__name__}: {exc}"[:1000], type=DATA_ERROR, non_retryable=True
        )
    return exc


class _FinalDataErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except Exception as exc:
            final = as_final(exc)
            if final is exc:
                raise
            raise final from exc


class DataErrorInterceptor(Interceptor):
    """Worker interceptor: data errors of any activity are final (see the module doc)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FinalDataErrors(next)
