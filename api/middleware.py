"""Request id (X-Request-ID in and out) bound into structlog context; request body limit;
errors no route handled (503 for an unreachable backend, else 500), logged once each."""

from __future__ import annotations

import re
import uuid

import structlog
from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.outages import RETRY_AFTER_SECONDS, Outages, backend_down
from api.problems import problem_response

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task overhead): tags requests, logs and replies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


MAX_BODY_BYTES = 1024 * 1024
"""Largest request body any route accepts (deal requests and reports are a few KiB)."""


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    """413 for bodies above `limit`: declared (Content-Length) before reading, streamed once
    the running total passes it — the webhook hashes its body before checking anything."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                error = _too_large(self.limit)
                response = problem_response(Request(scope), error.status_code, error.detail)
                await response(scope, receive, send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # an HTTPException: FastAPI re-raises it from body parsing as it is
                    raise _too_large(self.limit)
            return message

        await self.app(scope, limited_receive, send)


class ErrorMiddleware:
    """Innermost: an exception no route handled becomes a problem document that still passes
    through the request-id and body-limit middlewares. An unreachable Postgres or Temporal
    is a 503 with Retry-After (logged once per outage); anything else a 500 logged once,
    with its request id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            request = Request(scope)
            backend = backend_down(exc)
            if backend is not None:
                outages: Outages | None = getattr(scope["app"].state, "outages", None)
                if outages is not None:
                    outages.report(backend, exc)
                response = problem_response(
                    request,
                    503,
                    f"{backend} is unavailable; retry in {RETRY_AFTER_SECONDS} s",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            else:
                log.exception(
                    "request.failed",
                    path=request.url.path,
                    request_id=scope.get("state", {}).get("request_id"),
                )
                response = problem_response(
                    request, 500, "unexpected error; quote the request_id when reporting"
                )
            await response(scope, receive, send)


class JsonBodyMiddleware:
    """415 for a request body that is not JSON: every route takes `application/json`."""

    METHODS = frozenset({"POST", "PUT", "PATCH"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if has_body and not (media == b"application/json" or media.endswith(b"+json")):
            response = problem_response(
                Request(scope),
                415,
                "send the body as application/json",
                headers={"Accept": "application/json"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
