"""Denied attempts in the audit log: a 401 to a request that carried credentials, every
403, and every 404 that hides a refusal (`HIDDEN_DENIAL`) become `access.denied` rows (path,
method, status, token id, client address, request ids), written after the answer went out.

At most LICENSEFLOW_DENIED_AUDIT_PER_MINUTE rows per token (or per client address when the
token is unknown) and minute; the rest are counted, and the next row written for that key
says how many were left out (`detail.suppressed`). The counters keep at most
LICENSEFLOW_RATE_LIMIT_KEYS keys, so neither the table nor memory grows with an attack.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import client_ip
from store import audit
from store.tokens import Principal

HIDDEN_DENIAL = "hidden_denial"
"""Request-state flag: this 404 hides a refusal (set by `api.task_access.hidden_denial`)."""

log = structlog.get_logger(__name__)

ACTION = "access.denied"
ANONYMOUS = "anonymous"
MAX_PATH = 300
WINDOW_SECONDS = 60.0


class DenialBudget:
    """Rows allowed per key and minute (fixed windows), for at most `max_keys` keys."""

    def __init__(
        self, per_minute: int, max_keys: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.max_keys = max_keys
        self.clock = clock
        self._windows: OrderedDict[str, list[int]] = OrderedDict()  # [window, written, left]

    def __len__(self) -> int:
        return len(self._windows)

    def admit(self, key: str) -> int | None:
        """None when this denial is not to be written; else how many earlier ones for this key
        were left out since the last row (0 mostly)."""
        window = int(self.clock() // WINDOW_SECONDS)
        entry = self._windows.get(key)
        if entry is None or entry[0] != window:
            left_out = entry[2] if entry is not None else 0
            entry = [window, 0, left_out]
        self._windows[key] = entry
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        if entry[1] >= self.per_minute:
            entry[2] += 1
            return None
        entry[1] += 1
        left_out, entry[2] = entry[2], 0
        return left_out


class DeniedAuditMiddleware:
    """Writes the `access.denied` rows (see the module docstring)."""

    def __init__(self, app: ASGIApp, budget: DenialBudget) -> None:
        self.app = app
        self.budget = budget

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status == 403 or (status == 401 and _has_credentials(scope)) or _hidden(scope, status):
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        who: Principal | None = state.get("principal")
        address = client_ip(scope)
        token_id = who.token_id if who is not None else None
        key = f"token:{token_id}" if token_id else f"ip:{address}"
        left_out = self.budget.admit(key)
        if left_out is None:
            return
        detail: dict[str, Any] = {
            "path": "".join(c for c in str(scope.get("path", "")) if c.isprintable())[:MAX_PATH],
            "method": scope.get("method"),
            "status": status,
            "request_id": state.get("request_id"),
        }
        if state.get("client_request_id"):
            detail["client_request_id"] = state["client_request_id"]
        if left_out:
            detail["suppressed"] = left_out
        actor = who.user if who is not None else ANONYMOUS
        log.warning(ACTION, status=status, path=detail["path"], actor=actor, token_id=token_id)
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return
        try:
            await audit.append(
                services.pool,
                actor=actor,
                action=ACTION,
                subject=detail["path"],
                detail=detail,
                token_id=token_id,
                client_ip=address,
            )
        except Exception as exc:  # the answer is sent; a lost row must not become an error
            log.warning("access.denied.unrecorded", error=type(exc).__name__)


def _hidden(scope: Scope, status: int) -> bool:
    """A 404 that hides a refusal (`api.task_access.hidden_denial`: a task or profile the
    caller may not see answers like an unknown one) is a denied attempt too."""
    state = scope.get("state") or {}
    return status == 404 and bool(state.get(HIDDEN_DENIAL))


def _has_credentials(scope: Scope) -> bool:
    return any(
        name == b"authorization" and value.strip() for name, value in scope.get("headers", [])
    )
