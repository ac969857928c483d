"""The remote codec server of Temporal's codec protocol, for the Web UI and `temporal` CLI.

`POST /codec/encode` and `POST /codec/decode` take and answer `{"payloads": [...]}` (the
protobuf JSON of `Payloads`: base64 metadata values and data) through the same
`EncryptionCodec` and key ring as the workers (`licenseflow/encryption.py`). `X-Namespace`,
when sent, must be the configured namespace. Ops and admin only:

- with `Authorization: Bearer <token>` (the CLI: `--codec-auth "Bearer ..."`);
- or, for the Web UI, which cannot send our bearer token, with a *codec session*:
  `POST /codec/session` (bearer, ops/admin) issues an 8-hour token of the caller, narrowed to
  one role, into an HttpOnly `SameSite=Strict` cookie for `/codec` only; the UI sends it with
  "Include cross-origin credentials". The cookie is read on `/codec/encode|decode` only (every
  other route stays bearer-only) and only from a request whose `Origin` is one of the
  configured UI origins. `DELETE /codec/session` revokes it.

CORS (`CodecCorsMiddleware`) answers only on `/codec/*`, only to the configured origins
(`Settings.codec_origins`). Each encode/decode is logged (who, how many payloads, key ids;
never a payload's content); a session's token is audited as `token.create`/`token.revoke`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload

from api.auth import require_role
from api.deps import Caller, Svc, principal, token_principal
from api.problems import forbidden, invalid, problem_response, unauthorized
from api.routes.tokens import issue_audited, revoke_audited
from api.routing import AuthorizeFirstRoute
from licenseflow.encryption import ENCODING, KEY_ID_METADATA, EncryptionCodec, PayloadKeyError
from store import tokens
from store.pool import transaction
from store.tokens import Principal

log = structlog.get_logger(__name__)

PREFIX = "/codec"
ROLES = ("ops", "admin")
SESSION_COOKIE = "lf_codec_session"
SESSION_TTL = timedelta(hours=8)
SESSION_PURPOSE = "codec session"
"""Noted in the audit rows of a session's token."""
MAX_PAYLOADS = 1000
"""Payloads per request (the UI and CLI send one field's payloads at a time)."""
ALLOWED_METHODS = ("POST", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Namespace")
EXPOSED_HEADERS = ("X-Request-ID", "Retry-After")
PREFLIGHT_MAX_AGE = 600

router = APIRouter(prefix=PREFIX, tags=["codec"], route_class=AuthorizeFirstRoute)
BEARER: dict[str, Any] = {"security": [{"bearer": []}]}
"""Swagger UI sends the Authorization header only to operations that declare it."""
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No ops/admin bearer token, nor a live codec session"},
    403: {"description": "Not ops or admin, or a codec session from another origin"},
    413: {"description": "Request body above 1 MiB"},
    415: {"description": "Request body is not application/json"},
    422: {
        "description": "Invalid body, another X-Namespace, or a payload that cannot be "
        "decrypted (unknown key id, tampered); `errors` names it"
    },
    429: {"description": "Too many requests; see Retry-After"},
}
SESSION_ERRORS: dict[int | str, dict[str, Any]] = {s: ERRORS[s] for s in (401, 403, 429)}


# ----------------------------------------------------------------------------- the body


def _base64(value: object) -> bytes:
    """Protobuf JSON bytes: standard or URL-safe base64, padded or not."""
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


Base64 = Annotated[bytes, BeforeValidator(_base64)]


class PayloadJson(BaseModel):
    """One `temporal.api.common.v1.Payload` as protobuf JSON (other fields kept as sent)."""

    model_config = ConfigDict(extra="allow")

    metadata: dict[str, Base64] = Field(default_factory=dict, max_length=64)
    data: Base64 = b""


class PayloadsJson(BaseModel):
    """`temporal.api.common.v1.Payloads` as protobuf JSON: the codec protocol's body."""

    model_config = ConfigDict(extra="forbid")

    payloads: list[PayloadJson] = Field(max_length=MAX_PAYLOADS)


def _to_proto(items: Sequence[PayloadJson]) -> list[Payload]:
    found = []
    for index, item in enumerate(items):
        payload = Payload(metadata=item.metadata, data=item.data)
        if item.model_extra:
            try:
                json_format.ParseDict(item.model_extra, payload)
            except json_format.ParseError as exc:
                raise invalid(f"body.payloads.{index}", str(exc)) from None
        found.append(payload)
    return found


def _answer(payloads: Iterable[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [json_format.MessageToDict(p) for p in payloads]})


# ----------------------------------------------------------------------------- who calls


async def codec_caller(request: Request, svc: Svc) -> Principal:
    """An ops or admin caller: by bearer token, else by codec session cookie from a
    configured UI origin. 401 without either, 403 for other roles or another origin."""
    via = "bearer"
    if request.headers.get("authorization"):
        who = await principal(request, svc)
    else:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            raise unauthorized(
                "an ops or admin bearer token, or a codec session (POST /codec/session), "
                "is required"
            )
        origin = request.headers.get("origin")
        if origin not in svc.settings.codec_origins:
            raise forbidden(
                "a codec session is accepted only from the Temporal UI origins "
                "(LICENSEFLOW_CODEC_CORS_ORIGINS); other clients send a bearer token"
            )
        who = await token_principal(
            request,
            svc,
            session,
            refused="the codec session expired or was revoked: start one with POST /codec/session",
        )
        via = "session"
    require_role(who, *ROLES)
    structlog.contextvars.bind_contextvars(codec_auth=via)
    return who


async def codec_namespace(
    svc: Svc,
    x_namespace: Annotated[str | None, Header(max_length=255)] = None,
) -> str:
    """The namespace of `X-Namespace` (absent: the configured one); 422 for another."""
    served = svc.settings.temporal_namespace
    if x_namespace is not None and x_namespace != served:
        raise invalid(
            "header.x-namespace",
            f"this codec server serves namespace {served!r}, not {x_namespace!r}",
            kind="wrong_namespace",
        )
    return served


CodecCaller = Annotated[Principal, Depends(codec_caller)]
Namespace = Annotated[str, Depends(codec_namespace)]


# ----------------------------------------------------------------------------- routes


@router.post("/encode", openapi_extra=BEARER, responses=ERRORS)
async def encode(
    body: PayloadsJson, svc: Svc, who: CodecCaller, namespace: Namespace
) -> JSONResponse:
    """Encrypt payloads with the newest key of the ring (ops, admin)."""
    payloads = _to_proto(body.payloads)
    encoded = await EncryptionCodec(svc.settings.payload_key_ring).encode(payloads)
    _log("codec.encode", who, namespace, encoded)
    return _answer(encoded)


@router.post("/decode", openapi_extra=BEARER, responses=ERRORS)
async def decode(
    body: PayloadsJson, svc: Svc, who: CodecCaller, namespace: Namespace
) -> JSONResponse:
    """Decrypt payloads with the key each names (ops, admin); plain payloads come back as
    sent. 422 naming the payload for an unknown key id or one that fails authentication."""
    payloads = _to_proto(body.payloads)
    codec = EncryptionCodec(svc.settings.payload_key_ring)
    decoded = []
    for index, payload in enumerate(payloads):
        try:
            decoded.extend(await codec.decode([payload]))
        except PayloadKeyError as exc:
            log.warning("codec.decode_refused", user=who.user, index=index, reason=str(exc))
            raise invalid(f"body.payloads.{index}", str(exc), kind="undecryptable") from None
    _log("codec.decode", who, namespace, payloads)
    return _answer(decoded)


def _log(event: str, who: Principal, namespace: str, sealed: Sequence[Payload]) -> None:
    """Who used the codec on how many payloads under which keys; never their content."""
    key_ids = {
        p.metadata[KEY_ID_METADATA].decode(errors="replace")
        for p in sealed
        if p.metadata.get("encoding") == ENCODING and KEY_ID_METADATA in p.metadata
    }
    log.info(
        event,
        user=who.user,
        token_id=who.token_id,
        namespace=namespace,
        payloads=len(sealed),
        key_ids=sorted(key_ids),
    )


class CodecSession(BaseModel):
    """A browser's codec session: a short-lived token of the caller, held in a cookie."""

    token_id: str
    user_name: str
    roles: list[str]
    expires_at: datetime
    cookie: str = SESSION_COOKIE
    """The cookie's name (its value, the token, is never in the answer)."""


@router.post(
    "/session",
    status_code=status.HTTP_201_CREATED,
    response_model=CodecSession,
    openapi_extra=BEARER,
    responses=SESSION_ERRORS,
)
async def start_session(
    request: Request, response: Response, svc: Svc, who: Caller
) -> CodecSession:
    """Start a codec session for this browser (ops, admin; bearer token only): an HttpOnly,
    `SameSite=Strict` cookie for `/codec` holding a new token of the caller with one role
    (ops if held, else admin) for 8 hours at most (never past the calling token's expiry).
    The Temporal UI sends it with "Include cross-origin credentials" on."""
    require_role(who, *ROLES)
    role = "ops" if who.has("ops") else "admin"
    ttl = SESSION_TTL
    if who.token_id:
        calling = await tokens.get(svc.pool, who.token_id)
        if calling is not None:
            ttl = min(ttl, calling.expires_at - datetime.now(UTC))
    async with transaction(svc.pool) as conn:
        issued = await issue_audited(
            conn, svc, request, who, who.user, [role], ttl=ttl, purpose=SESSION_PURPOSE
        )
    info = issued.info
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=max(1, int(ttl.total_seconds())),
        path=PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    log.info("codec.session_started", user=who.user, token_id=info.token_id, role=role)
    return CodecSession(
        token_id=info.token_id,
        user_name=info.user_name,
        roles=list(info.roles),
        expires_at=info.expires_at,
    )


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(request: Request, svc: Svc) -> Response:
    """End this browser's codec session: its token is revoked and the cookie cleared (204
    also when there was none)."""
    session = request.cookies.get(SESSION_COOKIE)
    found = await tokens.find(svc.pool, session) if session else None
    if found is not None and found.status() == "active":
        async with transaction(svc.pool) as conn:
            await revoke_audited(
                conn, svc, request, found.user_name, found.token_id, purpose=SESSION_PURPOSE
            )
        log.info("codec.session_ended", user=found.user_name, token_id=found.token_id)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    answer.delete_cookie(
        SESSION_COOKIE,
        path=PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer


# ----------------------------------------------------------------------------- CORS


def _codec_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class CodecCorsMiddleware:
    """CORS for `/codec/*` only, for the configured origins only, with credentials (the
    codec session cookie). A preflight (OPTIONS with `Access-Control-Request-Method`) is
    answered here, without a token: 204 when origin, method and headers are allowed, else a
    403 problem without any `Access-Control-Allow-*` header. Other answers to an allowed
    origin get `Access-Control-Allow-Origin: <origin>` and `-Allow-Credentials: true`,
    errors included, so the UI can read them."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.allowed_headers = frozenset(h.lower() for h in ALLOWED_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _codec_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, origin, headers)
            return
        allowed = origin is not None and origin in self.origins

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                found = MutableHeaders(scope=message)
                found.add_vary_header("Origin")
                if allowed:
                    assert origin is not None
                    found.update(self._allow(origin))
                    found["access-control-expose-headers"] = ", ".join(EXPOSED_HEADERS)
            await send(message)

        await self.app(scope, receive, with_cors)

    def _allow(self, origin: str) -> dict[str, str]:
        return {
            "access-control-allow-origin": origin,
            "access-control-allow-credentials": "true",
        }

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str | None, headers: Headers
    ) -> None:
        method = headers["access-control-request-method"].strip().upper()
        asked = {
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        refused = None
        if origin is None or origin not in self.origins:
            refused = f"origin {origin!r} may not call the codec server"
        elif method not in ALLOWED_METHODS:
            refused = f"method {method} is not allowed here ({', '.join(ALLOWED_METHODS)})"
        elif asked - self.allowed_headers:
            refused = (
                f"header(s) {', '.join(sorted(asked - self.allowed_headers))} are not allowed "
                f"here ({', '.join(ALLOWED_HEADERS)})"
            )
        if refused is not None:
            log.info("codec.preflight_refused", origin=origin, reason=refused)
            response = problem_response(
                StarletteRequest(scope), 403, refused, headers={"Vary": "Origin"}
            )
            await response(scope, receive, send)
            return
        assert origin is not None
        answer = Response(
            status_code=status.HTTP_204_NO_CONTENT,
            headers={
                **self._allow(origin),
                "access-control-allow-methods": ", ".join(ALLOWED_METHODS),
                "access-control-allow-headers": ", ".join(ALLOWED_HEADERS),
                "access-control-max-age": str(PREFLIGHT_MAX_AGE),
                "vary": "Origin",
            },
        )
        await answer(scope, receive, send)
