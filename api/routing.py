"""Authorization before validation: a caller who may not use a route gets 401/403, never a
422 about its body.

FastAPI resolves a route's dependencies (the caller, role and ownership gates of
`api/gates.py`) before it raises the body's validation errors, so a gate's 401/403 wins over
a body that does not validate. Only a body that is not JSON at all fails earlier, while
FastAPI reads it. `AuthorizeFirstRoute` (the `route_class` of every router with write
routes) parses the JSON itself first and, when it is malformed, hands FastAPI a value no
model accepts: the gates run, and only then is the body refused, as the same `json_invalid`
error FastAPI would have given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response


class _NotJson:
    """Stands for a malformed JSON body until the gates have run."""


NOT_JSON = _NotJson()


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class AuthorizeFirstRoute(APIRoute):
    """An APIRoute whose malformed JSON body is refused only after its dependencies ran."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def authorize_first(request: Request) -> Response:
            error: json.JSONDecodeError | None = None
            if _is_json(request.headers.get("content-type")):
                body = await request.body()
                if body:
                    try:
                        request._json = json.loads(body)
                    except json.JSONDecodeError as exc:
                        request._json = NOT_JSON
                        error = exc
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if error is None:
                    raise
                raise RequestValidationError(
                    [
                        {
                            "type": "json_invalid",
                            "loc": ("body", error.pos),
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": error.msg},
                        }
                    ],
                    body=error.doc,
                ) from exc

        return authorize_first
