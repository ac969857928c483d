"""Business refusals raised by workflow validators and handlers (one builder for both
workflows); the API maps their type to an HTTP status (`domain.errors.HTTP_STATUS`)."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval_rules import Refusal


def refuse(message: str, kind: str, field: str | None = None) -> ApplicationError:
    """A non-retryable refusal of type `kind` (see `domain.errors`), naming input `field`."""
    return ApplicationError(message, *errors.field_detail(field), type=kind, non_retryable=True)


def refusal_error(refusal: Refusal) -> ApplicationError:
    """The ApplicationError for a rule's `Refusal`."""
    return refuse(refusal.message, refusal.error_type, refusal.field)
