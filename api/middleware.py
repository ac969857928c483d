"""The HTTP edge, outermost first: the client address (forwarded headers only from trusted
proxies), a server-made request id bound into structlog context, request guards (one
Authorization header, no token in the URL); then, innermost, the request body limit, JSON
bodies only, and errors no route handled (503 for an unreachable backend, else 500), logged
once each. Security headers, rate limits and the audit of denied calls are in
`api/security_headers.py`, `api/ratelimit.py` and `api/denied.py`."""

from __future__ import annotations

import ipaddress
import unicodedata
import uuid
from collections.abc import Sequence
from urllib.parse import parse_qsl

import structlog
from fastapi import HTTPException
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.outages import RETRY_AFTER_SECONDS, Outages, backend_down
from api.problems import problem_response
from licenseflow.config import IPNetwork

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
CLIENT_REQUEST_ID_MAX = 128
"""A client's X-Request-ID is kept (as `client_request_id`) up to this many characters."""


def client_ip(scope: Scope) -> str | None:
    """The client address as resolved by `ClientAddressMiddleware` (else the TCP peer)."""
    found = scope.get("state", {}).get("client_ip")
    if found:
        return str(found)
    client = scope.get("client")
    return str(client[0]) if client else None


class ClientAddressMiddleware:
    """Who is calling, in `scope["client"]`, `scope["scheme"]` and `state.client_ip`.

    The TCP peer is the client unless it is one of `trusted` (LICENSEFLOW_TRUSTED_PROXIES):
    then X-Forwarded-For is read from the right, skipping trusted proxies, and the first
    other address is the client; X-Forwarded-Proto (its last value, `http` or `https`) is
    the scheme. From any other peer both headers are ignored. The scope is changed in place,
    so uvicorn's access log shows the same client."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = str(client[0]) if client else None
        address = peer
        if self.trusted and peer is not None and self._trusted(peer):
            forwarded: list[str] = []
            proto: list[str] = []
            for name, value in scope.get("headers", []):
                if name == b"x-forwarded-for":
                    forwarded.extend(v.strip() for v in value.decode("latin-1").split(","))
                elif name == b"x-forwarded-proto":
                    proto.extend(v.strip().lower() for v in value.decode("latin-1").split(","))
            address = self._client_from(peer, forwarded)
            if proto and proto[-1] in ("http", "https"):
                scheme = proto[-1]
                scope["scheme"] = (
                    scheme if scope["type"] == "http" else scheme.replace("http", "ws")
                )
            if address != peer:
                scope["client"] = (address, 0)
        state = scope.setdefault("state", {})
        state["client_ip"] = address
        state["peer_ip"] = peer
        await self.app(scope, receive, send)

    def _client_from(self, peer: str, forwarded: list[str]) -> str:
        """The rightmost X-Forwarded-For hop that is not a trusted proxy; a hop that is not
        an address ends the walk at the proxy that reported it."""
        address = peer
        for hop in reversed([h for h in forwarded if h]):
            try:
                hop = str(ipaddress.ip_address(hop))
            except ValueError:
                return address
            address = hop
            if not self._trusted(hop):
                return hop
        return address


def clean_client_request_id(raw: bytes) -> str | None:
    """A client's X-Request-ID for logs and audit: control (and other non-printing)
    characters removed, at most CLIENT_REQUEST_ID_MAX characters; None when nothing is left."""
    text = raw.decode("utf-8", errors="replace")
    kept = "".join(c for c in text if not unicodedata.category(c).startswith("C")).strip()
    return kept[:CLIENT_REQUEST_ID_MAX] or None


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task overhead): every request gets an id made
    here (X-Request-ID on the reply, `request_id` in logs, problems and audit rows). A
    client's own X-Request-ID is never used as the id: it is kept, cleaned, as
    `client_request_id` in logs and audit detail."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming: str | None = None
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                incoming = clean_client_request_id(value)
                break
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        context = {"request_id": request_id}
        if incoming is not None:
            state["client_request_id"] = incoming
            context["client_request_id"] = incoming
        address = client_ip(scope)
        if address is not None:
            context["client_ip"] = address

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(**context):
            await self.app(scope, receive, send_with_id)


QUERY_TOKEN_PARAMS = frozenset({"access_token"})
"""Query parameters that would carry a bearer token: refused, never read."""


class RequestGuardMiddleware:
    """400 for requests that could confuse authentication: more than one Authorization
    header, or a token in the URL (`?access_token=`: URLs end up in logs, browser history
    and proxies; tokens go in the Authorization header only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = None
        if sum(1 for name, _ in scope.get("headers", []) if name == b"authorization") > 1:
            detail = "send exactly one Authorization header"
        elif self._token_in_query(scope.get("query_string", b"")):
            detail = "tokens are accepted in the Authorization header only, never in the URL"
        if detail is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(Request(scope), 400, detail)
        await response(scope, receive, send)

    @staticmethod
    def _token_in_query(query: bytes) -> bool:
        if not query or b"token" not in query.lower():
            return False
        names = {k.lower() for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
        return bool(names & QUERY_TOKEN_PARAMS)


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
