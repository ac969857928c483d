"""Helpers for API tests: a harness around the ASGI app, users and tokens, bounded polling."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from polling import eventually
from pydantic import ValidationError
from temporalio.client import Client

from domain.ids import ID_PATTERN
from domain.properties import PropertyIn
from domain.territories import COUNTRIES
from licenseflow.config import Settings
from store import properties, users
from store.tokens import create_token

_ID = re.compile(ID_PATTERN)


@dataclass
class Api:
    """The app under test plus what tests need beside HTTP: pool, Temporal, unique names."""

    http: httpx.AsyncClient
    pool: asyncpg.Pool
    client: Client
    settings: Settings
    uid: str
    _tokens: dict[tuple[str, tuple[str, ...], str | None], str] = field(default_factory=dict)
    provision: bool = True
    """Create the users a POSTed partner or deal names (see `provision_people`); tests of
    those rules turn it off."""
    provision_property: bool = True
    """Register the property a POSTed deal names when it is unknown (`provision_property`);
    tests of the property rules turn it off."""

    def name(self, base: str) -> str:
        """A name unique to this test (the dev server and its visibility are shared)."""
        return f"{base}-{self.uid}"

    async def user(self, user: str, *roles: str, partner_id: str | None = None) -> users.User:
        """The user `user` holding at least `roles` (created, or the roles added; a given
        partner binding replaces the old one)."""
        return await users.ensure(self.pool, user, list(roles), partner_id)

    async def auth(self, user: str, *roles: str, partner_id: str | None = None) -> dict[str, str]:
        """Authorization header for a (cached) token of `user` with exactly `roles`; the user
        is created, or given the roles, first."""
        key = (user, tuple(sorted(roles)), partner_id)
        if key not in self._tokens:
            await self.user(user, *roles, partner_id=partner_id)
            self._tokens[key] = await create_token(self.pool, user, list(roles), partner_id)
        return {"Authorization": f"Bearer {self._tokens[key]}"}


async def provision_people(api: Api, path: str, body: Any) -> None:
    """Create the users a partner or deal body names, as the API requires them
    (`api/people.py`): the partner's contact user (partner role, bound to it) unless that user
    exists; every approver, escalation target and the licensor signatory (approver role
    added); a named owner (owner role added). Names that are not identifiers are left out
    (tests of input bounds send those)."""
    if not isinstance(body, dict):
        return

    def named(value: Any) -> str | None:
        return value if isinstance(value, str) and _ID.match(value) else None

    if path == "/v1/partners":
        contact, partner_id = named(body.get("contact_user")), named(body.get("partner_id"))
        if contact and partner_id and await users.get(api.pool, contact) is None:
            await users.ensure(api.pool, contact, ["partner"], partner_id)
        return
    if path != "/v1/deals":
        return
    people = [body.get("licensor_signatory"), *(body.get("plan_approvers") or [])]
    for step in body.get("partner_approval_chain") or []:
        if isinstance(step, dict):
            people += [*(step.get("approvers") or []), step.get("escalate_to")]
    for person in people:
        if name := named(person):
            await users.ensure(api.pool, name, ["approver"])
    if owner := named(body.get("owner")):
        await users.ensure(api.pool, owner, ["owner"])


async def provision_property(pool: asyncpg.Pool, body: Any) -> None:
    """Register the property a deal body names, unless it exists: every country, the
    body's categories and channels, available since 2000 without end (so the deal's scope
    and term fit it; tests of those rules register their own)."""
    if not isinstance(body, dict) or not isinstance(body.get("property_id"), str):
        return
    property_id = body["property_id"]
    if not _ID.match(property_id) or await properties.get(pool, property_id) is not None:
        return
    plan = body.get("plan")
    scope = plan.get("scope") if isinstance(plan, dict) else None

    def codes(key: str) -> list[str]:
        found = scope.get(key) if isinstance(scope, dict) else None
        return (
            [c for c in found if isinstance(c, str) and c.strip()]
            if isinstance(found, list)
            else []
        )

    try:
        prop = PropertyIn.model_validate(
            {
                "property_id": property_id,
                "name": property_id,
                "rights": {
                    "categories": codes("categories") or ["apparel"],
                    "territories": sorted(COUNTRIES),
                    "channels": codes("channels") or ["online"],
                },
                "available_from": "2000-01-01T00:00:00Z",
            }
        )
    except ValidationError:
        return  # a body the API refuses anyway (tests of input bounds)
    await users.ensure(pool, PROPERTY_OWNER, ["owner"])
    await properties.insert(pool, prop, owner=PROPERTY_OWNER, created_by="test")


PROPERTY_OWNER = "brand-owner"
"""The owner of the properties the tests register on the fly."""


async def provision_request(api: Api, request: httpx.Request) -> None:
    """An httpx request hook: `provision_people` for POST /v1/partners and /v1/deals, and
    `provision_property` for the deals."""
    if request.method != "POST" or request.url.path not in ("/v1/partners", "/v1/deals"):
        return
    try:
        body = json.loads(await request.aread())
    except ValueError:
        return
    if api.provision:
        await provision_people(api, request.url.path, body)
    if api.provision_property and request.url.path == "/v1/deals":
        await provision_property(api.pool, body)


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
