"""Business refusals raised by workflow validators and handlers (one builder for both
workflows); the API maps their type to an HTTP status (`domain.errors.HTTP_STATUS`)."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval_rules import Refusal


def refuse(message: str, kind: str, field: str | None = None) -> ApplicationError:
    """A non-retryable refusal of type `kind` (see `domain.errors`), naming input `field`."""
    return ApplicationError(message, *errors.field_detail(field), type=kind, non_retryable=True)


def refusal_error(refusal: Refusal) -> ApplicationError:
    """The ApplicationError for a rule's `Refusal`."""
    return refuse(refusal.message, refusal.error_type, refusal.field)


def check_at_edge(message: BaseModel) -> None:
    """Re-validate an update's input against today's edge bounds (it was decoded leniently,
    like everything read from history). Only for update validators, which never run on
    replay: a signal must decide the same way on every replay, so signals are not re-checked."""
    try:
        type(message).model_validate(message.model_dump(mode="json"))
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or None
        raise refuse(first.get("msg", "invalid input"), errors.INVALID, field) from None
