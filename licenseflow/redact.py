"""Secrets never reach the logs: bearer tokens and token-like query parameters are masked in
every log event (ours and stdlib loggers', uvicorn's access log included) before rendering.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

MASK = "[redacted]"
SECRET_PARAMS = (
    "access_token",
    "token",
    "refresh_token",
    "id_token",
    "api_key",
    "apikey",
    "password",
    "secret",
    "client_secret",
    "signature",
)
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:" + "|".join(SECRET_PARAMS) + r")=)[^&;#\s\"']*",
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TOKEN = re.compile(r"\blf_[A-Za-z0-9_-]{8,}")
"""Our API tokens (`store/tokens.py`: `lf_` + 43 url-safe characters), wherever they appear."""


def redact_text(text: str) -> str:
    """`text` with query-string secrets, `Bearer <token>` and API tokens masked."""
    if "=" in text:
        text = _QUERY_SECRET.sub(r"\1" + MASK, text)
    text = _BEARER.sub(r"\1" + MASK, text)
    return _TOKEN.sub("lf_" + MASK, text)


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 4:
        return value
    if isinstance(value, dict):
        return {k: _redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


def redact_secrets(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every value of the event (nested a few levels)."""
    for key, value in event.items():
        if key.startswith("_"):
            continue  # `_record` and friends: the stdlib record itself, not output
        event[key] = _redact(value)
    return event
