"""Exceptions that stop the deal lifecycle, and the validators' refusal helper."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain import errors


class Terminated(Exception):
    """A terminate request is pending: leave whatever the lifecycle is doing."""


class Cancelled(Exception):
    """A human wait expired without the input the deal needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def refuse(message: str, kind: str, field: str | None = None) -> ApplicationError:
    """A non-retryable business refusal of type `kind` (see `domain.errors`), naming `field`."""
    return ApplicationError(message, *errors.field_detail(field), type=kind, non_retryable=True)
