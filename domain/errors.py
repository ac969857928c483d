"""ApplicationError types shared by workflows (validators) and the API (HTTP mapping)."""

from __future__ import annotations

FORBIDDEN = "Forbidden"  # caller may not do this (HTTP 403)
CONFLICT = "Conflict"  # state does not allow it now, or a stale task (HTTP 409)
INVALID = "Invalid"  # input is malformed for this decision (HTTP 422)
NOT_FOUND = "NotFound"  # no such task/partner (HTTP 404)

HTTP_STATUS = {FORBIDDEN: 403, CONFLICT: 409, INVALID: 422, NOT_FOUND: 404}


def field_detail(field: str | None) -> tuple[dict[str, str], ...]:
    """ApplicationError details naming the input field a refusal is about (none if None)."""
    return ({"field": field},) if field else ()
