"""Helpers for API tests: a harness around the ASGI app, tokens, bounded polling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from polling import eventually
from temporalio.client import Client

from licenseflow.config import Settings
from store.tokens import create_token


@dataclass
class Api:
    """The app under test plus what tests need beside HTTP: pool, Temporal, unique names."""

    http: httpx.AsyncClient
    pool: asyncpg.Pool
    client: Client
    settings: Settings
    uid: str
    _tokens: dict[tuple[str, tuple[str, ...], str | None], str] = field(default_factory=dict)

    def name(self, base: str) -> str:
        """A name unique to this test (the dev server and its visibility are shared)."""
        return f"{base}-{self.uid}"

    async def auth(self, user: str, *roles: str, partner_id: str | None = None) -> dict[str, str]:
        """Authorization header for a (cached) token of `user` with `roles`."""
        key = (user, tuple(sorted(roles)), partner_id)
        if key not in self._tokens:
            self._tokens[key] = await create_token(self.pool, user, list(roles), partner_id)
        return {"Authorization": f"Bearer {self._tokens[key]}"}


async def audit_row(api: Api, deal_id: str, action: str, *, within: float = 10.0) -> dict[str, Any]:
    """The deal's first `action` audit row, polled for (workflows write some rows themselves)."""
    rows = await eventually(
        lambda: api.pool.fetch(
            "SELECT actor, action, deal_id, workflow_id, detail FROM audit_log"
            " WHERE deal_id = $1 AND action = $2 ORDER BY id",
            deal_id,
            action,
        ),
        bool,
        within=within,
    )
    return dict(rows[0])


def assert_problem(
    resp: httpx.Response, status: int, *, field: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` (naming `field` when given)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance", "request_id"} <= body.keys()
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, fields
    return body


async def inbox_task(api: Api, headers: dict[str, str], kind: str) -> dict[str, Any]:
    """Wait until the caller's inbox (GET /v1/tasks) holds a task of `kind`; return it."""

    async def inbox() -> list[dict[str, Any]]:
        resp = await api.http.get("/v1/tasks", headers=headers)
        assert resp.status_code == 200, resp.text
        return [t for t in resp.json() if t["kind"] == kind]

    return (await eventually(inbox, bool, within=30))[0]


async def decide_ok(api: Api, headers: dict[str, str], task: dict[str, Any], **body: Any) -> Any:
    """POST a decision on `task` and expect 200; the response body."""
    resp = await api.http.post(f"/v1/tasks/{task['task_id']}/decision", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()
