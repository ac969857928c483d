"""The access matrix: every endpoint of the API x every kind of caller -> the status the
documented rules give (README "Security", "Users and tokens", "What each caller reads",
"Statements as invoices"; `api/auth.py`, `api/gates.py`, `api/task_access.py`).

One table (`MATRIX`): a row per endpoint and body (a valid body, and an INVALID one: authorization
before validation, so a caller without the role, the ownership or the task gets 401/403/404,
never 422), a column per principal. Every cell is its own test
(`GET /v1/deals/{deal} x partner_b -> 403`). They all run against one world on the stand-in
workflows (`tests/api/api_stubs.py`), built once for this module: deal `moon` of owner A with
partner A as licensee, its plan task open for the approver (also the approver of the partner
approval's `legal` step), deal `moon2` whose plan task the approver has decided, a local
envelope for `moon`'s signature task (signatory sam, no principal), a statement of `moon`.

- A write a principal may do acts on a fresh resource (a new deal, approval, period, token,
  payment reference, user or partner id), so cells never depend on each other's order.
- A 404 the rules make "the answer for an unknown one" (tasks, partner profiles) is compared
  with the same request for an unknown id: same keys, type, title, detail and instance.
- `SEE`/`NOT`: 200, and the fixture's item (deal, task, partner, statement) is / is not in the
  list.
- Each invalid-body row is also sent with a body that is not JSON (same answers).
- A cell whose status contradicts the rules is a `Bug(rule, actual)`: an xfail while the API
  answers `actual`, a failure once it follows the rule (then write the rule in the table); the
  row carries a comment.

Also: the request guards on every endpoint (two Authorization headers, `?access_token=`: 400),
the e-sign webhook's own signature rows, and the people rules of the issue at API level.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from api_helpers import assert_problem
from api_samples import REPORT_LINE, deal, partner
from api_stubs import StubDeal, StubPartnerApproval
from polling import eventually
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.deal import DealActivities
from api.app import create_app
from api.esign import sign_body
from domain.approval import ApprovalStep, PartnerApprovalInput
from domain.common import LicensedScope
from domain.ids import partner_approval_id
from domain.partner import PartnerProfile
from licenseflow.config import Settings
from store import envelopes, statements, tokens, users
from store.pool import create_pool
from workers.main import build_worker

SECRETS = ("matrix-secret", "matrix-old-secret")

PRINCIPALS = (
    "none",  # no Authorization header
    "bad",  # a token that was never issued
    "expired",  # an admin's token past its expiry
    "revoked",  # an admin's revoked token
    "disabled",  # a live token of a disabled admin
    "admin",
    "owner_a",  # owns the deal
    "owner_b",  # another owner
    "approver",  # assigned: plan approver and approver of the approval's step
    "approver_x",  # an approver no deal names
    "partner_a",  # the deal's licensee (partner A's contact user)
    "partner_b",  # another registered partner's contact user
    "ops",
    "finance",
)

INVALID: dict[str, Any] = {
    "surprise": True,
    "deal_id": 5,
    "decision": ["x"],
    "reason": "",
    "amount": "many",
}
"""A body no write route accepts (tests/api/test_api_authorize_first.py)."""


# ----------------------------------------------------------------------------- the world


@dataclass
class World:
    """The app under test over ASGI, its pool and Temporal client, and the fixture's ids."""

    http: httpx.AsyncClient
    pool: asyncpg.Pool
    client: Client
    settings: Settings
    uid: str
    ids: dict[str, Any] = field(default_factory=dict)
    """Path placeholders and names: `deal`, `task`, `partner`, ..., `unknown_task`, ..."""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each principal's Authorization header ({} for `none`)."""
    tokens: dict[str, str] = field(default_factory=dict)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _periods: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def name(self, base: str) -> str:
        """A name unique to this module's world (the dev server is shared)."""
        return f"{base}-{self.uid}"

    def fresh(self, base: str) -> str:
        """A name used once."""
        return f"{base}-{self.uid}-{next(self._seq)}"

    def period(self) -> int:
        """A sales period nobody reported yet (the stand-in deal has 12)."""
        found = next(self._periods)
        assert found <= 12, "more sales reports than the deal has periods"
        return found


def _dsn(base: str, database: str) -> str:
    head, _, tail = base.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + database
    return f"{head}?{tail}" if tail else head


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(
    dev_env: WorkflowEnvironment, pg_base_url: str, template_url: str
) -> AsyncIterator[World]:
    """One database, app and stand-in worker for the whole matrix (cells only read it, or
    write to fresh resources)."""
    template = template_url.partition("?")[0].rsplit("/", 1)[1]
    database = f"lf_matrix_{uuid.uuid4().hex[:10]}"
    admin_conn = await asyncpg.connect(pg_base_url)
    try:
        await admin_conn.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
    finally:
        await admin_conn.close()
    db_url = _dsn(pg_base_url, database)
    pool = await create_pool(db_url, min_size=1, max_size=5)
    settings = Settings(
        DATABASE_URL=db_url,
        LICENSEFLOW_TASK_QUEUE=f"tq-matrix-{uuid.uuid4().hex[:8]}",
        LICENSEFLOW_ESIGN_SECRETS=",".join(SECRETS),
        LICENSEFLOW_RATE_LIMIT=False,
    )
    app = create_app(settings, pool=pool, client=dev_env.client)
    worker = build_worker(
        dev_env.client,
        pool,
        settings,
        task_queue=settings.task_queue,
        workflows=[StubDeal, StubPartnerApproval],
        activities=[DealActivities(pool).sync_deal_read_model],
    )
    try:
        async with (
            worker,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api.test"
            ) as http,
        ):
            found = World(http, pool, dev_env.client, settings, uuid.uuid4().hex[:8])
            await _build(found)
            yield found
    finally:
        await pool.close()
        admin_conn = await asyncpg.connect(pg_base_url)
        try:
            await admin_conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin_conn.close()


async def _build(w: World) -> None:
    """Users, tokens, partners, deals, the approval, the envelope and the statement."""
    n = w.name
    ids = w.ids
    ids.update(
        partner=n("acme"),
        partner_b=n("zeta"),
        partner_c=n("gamma"),
        approver_user=n("carol"),
        signer=n("sam"),
        cx_approver=n("cx-carol"),
        cx_signer=n("cx-sam"),
        victim=n("victim"),
        holder=n("holder"),
        owner_a_user=n("olivia"),
        partner_a_user=n("acme-ops"),
        olga=n("olga"),
        acme_boss=n("acme-boss"),
    )
    people: dict[str, tuple[str, list[str], str | None]] = {
        "expired": (n("exa"), ["admin"], None),
        "revoked": (n("rva"), ["admin"], None),
        "disabled": (n("dia"), ["admin"], None),
        "admin": (n("ada"), ["admin"], None),
        "owner_a": (ids["owner_a_user"], ["owner"], None),
        "owner_b": (n("otto"), ["owner"], None),
        "approver": (ids["approver_user"], ["approver"], None),
        "approver_x": (n("una"), ["approver"], None),
        "partner_a": (ids["partner_a_user"], ["partner"], ids["partner"]),
        "partner_b": (n("zeta-ops"), ["partner"], ids["partner_b"]),
        "ops": (n("oscar"), ["ops"], None),
        "finance": (n("fiona"), ["finance"], None),
    }
    for principal, (user, roles, partner_id) in people.items():
        await users.ensure(w.pool, user, roles, partner_id)
        w.tokens[principal] = await tokens.create_token(w.pool, user)
    for user in ("signer", "cx_approver", "cx_signer", "victim", "holder"):
        await users.ensure(w.pool, ids[user], ["approver"])
    await users.ensure(w.pool, n("gamma-ops"), ["partner"], ids["partner_c"])
    await users.ensure(w.pool, ids["olga"], ["owner", "approver"])
    await users.ensure(w.pool, ids["acme_boss"], ["approver", "partner"], ids["partner"])
    w.tokens["olga"] = await tokens.create_token(w.pool, ids["olga"], ["owner"])
    w.tokens["bad"] = "lf_" + uuid.uuid4().hex
    await w.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_name = $1",
        people["expired"][0],
    )
    assert await tokens.revoke(w.pool, w.tokens["revoked"])
    assert await users.set_active(w.pool, people["disabled"][0], False)
    w.headers = {"none": {}}
    for principal, token in w.tokens.items():
        w.headers[principal] = {"Authorization": f"Bearer {token}"}
    ids["token"] = (await tokens.issue(w.pool, ids["holder"])).info.token_id

    admin, owner = w.headers["admin"], w.headers["owner_a"]
    registered = await w.http.post(
        "/v1/properties", json=property_body_for(w, "moon-bear"), headers=admin
    )
    assert registered.status_code == 201, registered.text
    ids.update(property="moon-bear", unknown_property=n("nobody"))
    for partner_id, contact in (
        (ids["partner"], ids["partner_a_user"]),
        (ids["partner_b"], people["partner_b"][0]),
        (ids["partner_c"], n("gamma-ops")),
    ):
        registered = await w.http.post(
            "/v1/partners", json=partner(partner_id, contact), headers=admin
        )
        assert registered.status_code == 201, registered.text

    moon, moon2 = n("moon"), n("moon2")
    for deal_id in (moon, moon2):
        body = deal(
            deal_id,
            partner_id=ids["partner"],
            approver=ids["approver_user"],
            signatory=ids["signer"],
        )
        created = await w.http.post("/v1/deals", json=body, headers=owner)
        assert created.status_code == 201, created.text
    ids.update(
        deal=moon,
        task=f"deal-{moon}:plan-approval",
        decided=f"deal-{moon2}:plan-approval",
        signature=f"deal-{moon}:signature-1",
        statement=f"{moon}:y1:p1",
        unknown_task=f"deal-{n('ghost')}:plan-approval",
        unknown_decided=f"deal-{n('ghost2')}:plan-approval",
        unknown_signature=f"deal-{n('ghost')}:signature-1",
        unknown_partner=n("nobody"),
        unknown_approval=f"{partner_approval_id(moon, n('nobody'))}:v1-legal",
    )
    ids["approval"] = await _start_approval(w, moon, ids["partner"])
    await envelopes.create(
        w.pool,
        envelope_id=f"env-{moon}",
        idempotency_key=ids["signature"],
        deal_id=moon,
        workflow_id=f"deal-{moon}",
        provider="local",
        signatories=[ids["signer"]],
        document={"title": "Moon Bear"},
    )
    await eventually(
        lambda: w.pool.fetchval("SELECT count(*) FROM deals WHERE partner_id = $1", ids["partner"]),
        lambda count: count == 2,
        what="both deals in the read model",
    )
    await statements.insert(
        w.pool,
        statement_id=ids["statement"],
        deal_id=moon,
        kind="period",
        contract_year=1,
        period=1,
        net_sales=Decimal("1000.00"),
        royalty_earned=Decimal("80.00"),
        guaranteed_due=Decimal(0),
        amount_due=Decimal("1000000.00"),
        currency="EUR",
        issued_at=datetime.now(UTC),
    )
    # the approver's inbox shows every open task; then moon2's plan is decided
    wanted = {ids["task"], ids["decided"], ids["approval"]}
    await eventually(
        lambda: _listed(w, "/v1/tasks", "approver", "task_id"),
        lambda found: wanted <= found,
        what="the approver's inbox",
    )
    decided = await w.http.post(
        f"/v1/tasks/{ids['decided']}/decision",
        json={"decision": "approve"},
        headers=w.headers["approver"],
    )
    assert decided.status_code == 200, decided.text
    for who in ("owner_a", "partner_a", "approver"):
        await eventually(
            functools.partial(_listed, w, "/v1/deals?limit=500", who, "deal_id"),
            lambda found: moon in found,
            what=f"deal listed for {who}",
        )
    await eventually(
        lambda: w.http.get("/readyz"), lambda r: r.status_code == 200, within=20, what="readyz"
    )


async def _listed(w: World, path: str, who: str, key: str) -> set[str]:
    resp = await w.http.get(path, headers=w.headers[who])
    assert resp.status_code == 200, resp.text
    return {item[key] for item in resp.json()}


async def _start_approval(w: World, deal_id: str, partner_id: str) -> str:
    """A stand-in PartnerApproval whose `legal` step is open for the approver; its task id."""
    workflow_id = partner_approval_id(deal_id, partner_id)
    await w.client.start_workflow(
        "PartnerApproval",
        PartnerApprovalInput(
            deal_id=deal_id,
            partner=PartnerProfile.model_validate(partner(partner_id, w.ids["partner_a_user"])),
            scope=LicensedScope(categories=["apparel"], territories=["DE"], channels=["online"]),
            requester=w.ids["owner_a_user"],
            chain=[ApprovalStep(step="legal", approvers=[w.ids["approver_user"]])],
        ),
        id=workflow_id,
        task_queue=w.settings.task_queue,
    )
    return f"{workflow_id}:v1-legal"


# ------------------------------------------------------- fresh resources for allowed writes


async def fresh_deal(w: World) -> dict[str, Any]:
    """A new deal shaped like `moon` (owner A, partner A, the approver), its plan task open."""
    deal_id = w.fresh("moon")
    body = deal(
        deal_id,
        partner_id=w.ids["partner"],
        approver=w.ids["approver_user"],
        signatory=w.ids["signer"],
    )
    created = await w.http.post("/v1/deals", json=body, headers=w.headers["owner_a"])
    assert created.status_code == 201, created.text
    task = f"deal-{deal_id}:plan-approval"

    async def open_tasks() -> list[str]:
        resp = await w.http.get(f"/v1/deals/{deal_id}", headers=w.headers["owner_a"])
        return [t["task_id"] for t in resp.json().get("open_tasks", [])]

    await eventually(open_tasks, lambda found: task in found, what="the fresh deal's plan task")
    return {"deal": deal_id, "task": task}


async def fresh_approval(w: World) -> dict[str, Any]:
    """A new partner approval (of a fresh partner id for `moon`), its step open."""
    task = await _start_approval(w, w.ids["deal"], w.fresh("acme"))
    await eventually(
        lambda: _listed(w, "/v1/tasks", "approver", "task_id"),
        lambda found: task in found,
        what="the fresh approval's task",
    )
    return {"approval": task}


async def fresh_period(w: World) -> dict[str, Any]:
    return {"period": w.period()}


async def fresh_token(w: World) -> dict[str, Any]:
    return {"token": (await tokens.issue(w.pool, w.ids["holder"])).info.token_id}


# ------------------------------------------------------------------------------ bodies

Body = Callable[[World, dict[str, Any]], Awaitable[Any]]
Fresh = Callable[[World], Awaitable[dict[str, Any]]]


def fixed(value: Any) -> Body:
    async def body(w: World, ctx: dict[str, Any]) -> Any:
        return value

    return body


async def deal_body(w: World, ctx: dict[str, Any]) -> Any:
    """A new deal naming partner C and approvers of its own (the matrix's deals stay as they
    are; a 201 makes the caller the owner of a deal naming partner C only)."""
    return deal(
        w.fresh("new"),
        partner_id=w.ids["partner_c"],
        approver=w.ids["cx_approver"],
        signatory=w.ids["cx_signer"],
    )


async def report_body(w: World, ctx: dict[str, Any]) -> Any:
    return {"period": ctx.get("period", 12), "lines": [REPORT_LINE]}


async def partner_body(w: World, ctx: dict[str, Any]) -> Any:
    """A new partner, its contact user created first (bound to it)."""
    partner_id = w.fresh("globex")
    contact = f"{partner_id}-ops"
    await users.ensure(w.pool, contact, ["partner"], partner_id)
    return partner(partner_id, contact)


def property_body_for(w: World, property_id: str) -> dict[str, Any]:
    """A property of owner A offering what the matrix's deals license."""
    return {
        "property_id": property_id,
        "name": "Moon Bear",
        "owner": w.ids["owner_a_user"],
        "rights": {
            "categories": ["apparel"],
            "territories": ["EU"],
            "channels": ["online", "retail"],
        },
        "available_from": "2020-01-01T00:00:00Z",
    }


async def property_body(w: World, ctx: dict[str, Any]) -> Any:
    return property_body_for(w, w.fresh("prop"))


async def payment_body(w: World, ctx: dict[str, Any]) -> Any:
    return {"amount": "1.00", "reference": w.fresh("BANK").upper()}


async def user_body(w: World, ctx: dict[str, Any]) -> Any:
    return {"user_name": w.fresh("erin"), "roles": ["approver"]}


async def token_body(w: World, ctx: dict[str, Any]) -> Any:
    return {"user_name": w.ids["holder"], "ttl": "1h"}


WEBHOOK_EVENT = {"event": "envelope-completed", "data": {"envelopeId": "env-nope"}}

TERMINATE = fixed({"reason": "access matrix"})
DECIDE = fixed({"decision": "approve"})
MAYBE = fixed({"decision": "maybe"})
SIGN = fixed({"decision": "sign"})
PUT_USER = fixed({"roles": ["approver"]})
WEBHOOK = fixed(WEBHOOK_EVENT)
CODEC = fixed({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "Im1vb24i"}]})
"""A plain `json/plain` payload ("moon"): decoded as it is, encoded under the test key."""
BAD = fixed(INVALID)


@dataclass(frozen=True)
class Raw:
    """A body sent as it is, as `application/json`."""

    content: bytes


NOT_JSON = fixed(Raw(b'{"reason": "x", oops'))


# ------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Listed:
    """200, and the fixture's item is (or is not) in the list."""

    status: int
    listed: bool


@dataclass(frozen=True)
class Bug:
    """The rules say `rule`; the API answers `actual` (reported; an xfail until fixed, then a
    failure asking for the rule in the table)."""

    rule: int | Listed
    actual: int


SEE = Listed(200, True)
NOT = Listed(200, False)
Expect = int | Listed | Bug


def _deals(body: Any, ids: dict[str, Any]) -> bool:
    return ids["deal"] in {d["deal_id"] for d in body}


def _tasks(body: Any, ids: dict[str, Any]) -> bool:
    return ids["task"] in {t["task_id"] for t in body}


def _partners(body: Any, ids: dict[str, Any]) -> bool:
    return ids["partner"] in {p["partner_id"] for p in body}


def _properties(body: Any, ids: dict[str, Any]) -> bool:
    return ids["property"] in {p["property_id"] for p in body}


def _statements(body: Any, ids: dict[str, Any]) -> bool:
    return ids["statement"] in {s["statement_id"] for s in body}


@dataclass(frozen=True)
class Row:
    """One endpoint with one kind of body, and what each principal gets (PRINCIPALS order)."""

    method: str
    path: str
    body: Body | None
    expect: tuple[Expect, ...]
    label: str = ""
    twin: str | None = None
    """The placeholder whose unknown twin (`unknown_<twin>`) answers a 404 cell's request the
    same way: the rules make the hidden resource answer as an unknown one."""
    fresh: Fresh | None = None
    """Fresh resources for the cells that change something (2xx)."""
    listed: Callable[[Any, dict[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        assert len(self.expect) == len(PRINCIPALS), self.path

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


U = 401  # what a caller without a live token gets
AVAILABILITY = (
    "/v1/properties/{property}/availability?category=apparel&territory=EU&channel=online"
    "&from=2027-01-01T00:00:00Z&to=2028-01-01T00:00:00Z"
)
# fmt: off
MATRIX: list[Row] = [
    #    none bad  exp  rev  dis  adm  ownA ownB appr apx  ptA  ptB  ops  fin
    # deals
    Row("POST", "/v1/deals", deal_body,
        (U,   U,   U,   U,   U,   201, 201, 201, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/deals", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 422, 422, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/deals?limit=500", None, listed=_deals, expect=
        (U,   U,   U,   U,   U,   SEE, SEE, NOT, SEE, NOT, SEE, NOT, SEE, 403)),
    Row("GET", "/v1/deals/{deal}", None,
        (U,   U,   U,   U,   U,   200, 200, 403, 200, 403, 200, 403, 200, 403)),
    Row("POST", "/v1/deals/{deal}/terminate", TERMINATE, fresh=fresh_deal, expect=
        (U,   U,   U,   U,   U,   200, 200, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/deals/{deal}/terminate", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 422, 403, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/deals/{deal}/statements", None,
        (U,   U,   U,   U,   U,   200, 200, 403, 200, 403, 200, 403, 200, 200)),
    Row("GET", "/v1/deals/{deal}/audit", None,
        (U,   U,   U,   U,   U,   200, 200, 403, 403, 403, 403, 403, 200, 403)),
    # sales reports
    Row("POST", "/v1/deals/{deal}/sales-reports", report_body, fresh=fresh_period, expect=
        (U,   U,   U,   U,   U,   201, 403, 403, 403, 403, 201, 403, 403, 403)),
    Row("POST", "/v1/deals/{deal}/sales-reports", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 422, 403, 403, 403)),
    # tasks: the inbox; a deal's open plan task (assigned to the approver)
    Row("GET", "/v1/tasks", None, listed=_tasks, expect=
        (U,   U,   U,   U,   U,   NOT, NOT, NOT, SEE, NOT, NOT, NOT, NOT, NOT)),
    Row("POST", "/v1/tasks/{task}/decision", DECIDE, twin="task", fresh=fresh_deal, expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 200, 404, 404, 404, 403, 404)),
    Row("POST", "/v1/tasks/{task}/decision", BAD, label=" (invalid body)", twin="task", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 422, 404, 404, 404, 403, 404)),
    Row("POST", "/v1/tasks/{task}/decision", MAYBE, label=" (decision maybe)", twin="task", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 422, 404, 404, 404, 403, 404)),
    # a decided task: the licensor's people who read the deal hear 409, everyone else 404
    Row("POST", "/v1/tasks/{decided}/decision", DECIDE, twin="decided", expect=
        (U,   U,   U,   U,   U,   409, 409, 404, 409, 404, 404, 404, 403, 404)),
    Row("POST", "/v1/tasks/{decided}/decision", BAD, label=" (invalid body)", twin="decided",
        expect=
        (U,   U,   U,   U,   U,   422, 422, 404, 422, 404, 404, 404, 403, 404)),
    # a partner approval's open step (assigned to the approver)
    Row("POST", "/v1/tasks/{approval}/decision", DECIDE, twin="approval", fresh=fresh_approval,
        expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 200, 404, 404, 404, 403, 404)),
    Row("POST", "/v1/tasks/{approval}/decision", BAD, label=" (invalid body)", twin="approval",
        expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 422, 404, 404, 404, 403, 404)),
    # a decision the approval does not know (a valid DecisionBody, e.g. "maybe"): only the
    # assigned approver hears it is invalid (access is checked first)
    Row("POST", "/v1/tasks/{approval}/decision", MAYBE, label=" (decision maybe)",
        twin="approval", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 422, 404, 404, 404, 403, 404)),
    # the contract's signature task with a local envelope (signatory sam, no principal)
    Row("POST", "/v1/tasks/{signature}/decision", SIGN, twin="signature", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 404, 404, 404, 404, 403, 404)),
    Row("POST", "/v1/tasks/{signature}/decision", BAD, label=" (invalid body)",
        twin="signature", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 404, 404, 404, 404, 403, 404)),
    # partners
    Row("POST", "/v1/partners", partner_body,
        (U,   U,   U,   U,   U,   201, 201, 201, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/partners", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 422, 422, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/partners", None, listed=_partners, expect=
        (U,   U,   U,   U,   U,   SEE, SEE, NOT, NOT, NOT, SEE, NOT, SEE, NOT)),
    Row("GET", "/v1/partners/{partner}", None, twin="partner", expect=
        (U,   U,   U,   U,   U,   200, 200, 404, 404, 404, 200, 404, 200, 404)),
    # properties and the rights ledger: the licensor's (partners and approvers: 403)
    Row("POST", "/v1/properties", property_body,
        (U,   U,   U,   U,   U,   201, 201, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/properties", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 422, 422, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/properties", None, listed=_properties, expect=
        (U,   U,   U,   U,   U,   SEE, SEE, SEE, 403, 403, 403, 403, SEE, SEE)),
    Row("GET", "/v1/properties/{property}", None,
        (U,   U,   U,   U,   U,   200, 200, 200, 403, 403, 403, 403, 200, 200)),
    Row("GET", "/v1/properties/{unknown_property}", None, label=" (unknown)", expect=
        (U,   U,   U,   U,   U,   404, 404, 404, 403, 403, 403, 403, 404, 404)),
    Row("GET", AVAILABILITY, None,
        (U,   U,   U,   U,   U,   200, 200, 200, 403, 403, 403, 403, 200, 200)),
    Row("GET", "/v1/properties/{property}/grants", None,
        (U,   U,   U,   U,   U,   200, 200, 200, 403, 403, 403, 403, 200, 200)),
    # statements (invoices) and payments
    Row("GET", "/v1/statements", None, listed=_statements, expect=
        (U,   U,   U,   U,   U,   SEE, SEE, NOT, 403, 403, SEE, NOT, SEE, SEE)),
    Row("GET", "/v1/statements/{statement}", None,
        (U,   U,   U,   U,   U,   200, 200, 403, 403, 403, 200, 403, 200, 200)),
    Row("POST", "/v1/statements/{statement}/payments", payment_body,
        (U,   U,   U,   U,   U,   201, 403, 403, 403, 403, 403, 403, 403, 201)),
    Row("POST", "/v1/statements/{statement}/payments", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 403, 422)),
    # the users directory and tokens (admin only)
    Row("GET", "/v1/users", None,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/users", user_body,
        (U,   U,   U,   U,   U,   201, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/users", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/users/{victim}", None,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("PUT", "/v1/users/{holder}", PUT_USER,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("PUT", "/v1/users/{holder}", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/users/{victim}/disable", None,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/users/{victim}/enable", None,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("GET", "/v1/tokens", None,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/tokens", token_body,
        (U,   U,   U,   U,   U,   201, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("POST", "/v1/tokens", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 403, 403)),
    Row("DELETE", "/v1/tokens/{token}", None, fresh=fresh_token, expect=
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 403, 403)),
    # the remote codec server (api/routes/codec.py): ops and admin; a codec session is started
    # by bearer token and ended by its cookie alone (the session cells leave the cookie in the
    # client, the DELETE row right after them clears it: keep the two rows last of the codec's)
    Row("POST", "/codec/decode", CODEC,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 200, 403)),
    Row("POST", "/codec/decode", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 422, 403)),
    Row("POST", "/codec/encode", CODEC,
        (U,   U,   U,   U,   U,   200, 403, 403, 403, 403, 403, 403, 200, 403)),
    Row("POST", "/codec/encode", BAD, label=" (invalid body)", expect=
        (U,   U,   U,   U,   U,   422, 403, 403, 403, 403, 403, 403, 422, 403)),
    Row("POST", "/codec/session", None,
        (U,   U,   U,   U,   U,   201, 403, 403, 403, 403, 403, 403, 201, 403)),
    Row("DELETE", "/codec/session", None,
        (204, 204, 204, 204, 204, 204, 204, 204, 204, 204, 204, 204, 204, 204)),
    # the caller's own notifications
    Row("GET", "/v1/notifications", None,
        (U,   U,   U,   U,   U,   200, 200, 200, 200, 200, 200, 200, 200, 200)),
    # probes: no authentication at all
    Row("GET", "/healthz", None,
        (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    Row("GET", "/readyz", None,
        (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)),
    # the e-sign webhook: only its HMAC signature counts, never a bearer token (signed
    # requests: test_the_webhook_answers_to_its_signature_only)
    Row("POST", "/v1/webhooks/esign", WEBHOOK, label=" (unsigned)", expect=
        (U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U)),
    Row("POST", "/v1/webhooks/esign", BAD, label=" (unsigned, invalid body)", expect=
        (U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U,   U)),
]
# fmt: on


def _status(expect: Expect) -> int:
    if isinstance(expect, Bug):
        return _status(expect.rule)
    return expect.status if isinstance(expect, Listed) else expect


def _shown(expect: Expect) -> str:
    if isinstance(expect, Bug):
        return f"{_shown(expect.rule)} (now {expect.actual})"
    if isinstance(expect, Listed):
        return f"{expect.status} {'listed' if expect.listed else 'not listed'}"
    return str(expect)


def _rows() -> list[Row]:
    """The table, and each of its invalid-body rows again with a body that is not even JSON
    (the same answers: `api/routing.py` lets the gates run first)."""
    rows = []
    for row in MATRIX:
        rows.append(row)
        if row.body is BAD:
            rows.append(
                replace(row, body=NOT_JSON, label=row.label.replace("invalid body", "not JSON"))
            )
    return rows


def _cells() -> list[Any]:
    cells = []
    for row in _rows():
        for who, expect in zip(PRINCIPALS, row.expect, strict=True):
            cell_id = f"{row.endpoint}{row.label} x {who} -> {_shown(expect)}"
            cells.append(pytest.param(row, who, id=cell_id))
    return cells


async def _call(
    w: World, row: Row, who: str, ctx: dict[str, Any], path: str | None = None
) -> httpx.Response:
    body = await row.body(w, ctx) if row.body is not None else None
    url = (path or row.path).format(**ctx)
    if isinstance(body, Raw):
        headers = {**w.headers[who], "Content-Type": "application/json"}
        return await w.http.request(row.method, url, content=body.content, headers=headers)
    return await w.http.request(row.method, url, json=body, headers=w.headers[who])


def _same_as_unknown(
    hidden: httpx.Response, unknown: httpx.Response, real_id: str, unknown_id: str
) -> None:
    """Two 404 problems that differ only by the id they name."""
    body, twin = assert_problem(hidden, 404), assert_problem(unknown, 404)
    assert set(body) == set(twin)
    for key in ("type", "title", "status"):
        assert body[key] == twin[key], key
    for key in ("detail", "instance"):
        assert body[key].replace(real_id, "<id>") == twin[key].replace(unknown_id, "<id>"), key
    assert real_id in body["detail"]


@pytest.mark.parametrize(("row", "who"), _cells())
async def test_access(world: World, row: Row, who: str) -> None:
    expect = row.expect[PRINCIPALS.index(who)]
    status = _status(expect)
    ctx = dict(world.ids)
    if row.fresh is not None and 200 <= status < 300:
        ctx.update(await row.fresh(world))
    resp = await _call(world, row, who, ctx)
    if isinstance(expect, Bug):
        assert resp.status_code in (expect.actual, status), resp.text
        if resp.status_code == expect.actual:
            pytest.xfail(f"contradicts the rules: {status} expected, {expect.actual} answered")
        pytest.fail("the API follows the rule now: write the rule in the table, not a Bug")
    assert resp.status_code == status, resp.text
    if status >= 400:
        assert_problem(resp, status)
        assert status != 422 or row.body is not None  # a 422 only ever about a body
    if row.listed is not None:
        rule = expect.rule if isinstance(expect, Bug) else expect
        if isinstance(rule, Listed):
            assert row.listed(resp.json(), ctx) is rule.listed, resp.text
    if status == 404 and row.twin is not None:
        twin_path = row.path.replace("{" + row.twin + "}", "{unknown_" + row.twin + "}")
        unknown = await _call(world, row, who, ctx, path=twin_path)
        _same_as_unknown(resp, unknown, ctx[row.twin], ctx[f"unknown_{row.twin}"])


# ------------------------------------------------------- request guards on every endpoint


def _endpoints() -> list[Any]:
    seen: dict[tuple[str, str], Row] = {}
    for row in MATRIX:
        seen.setdefault((row.method, row.path), row)
    params = []
    for (method, path), row in seen.items():
        for guard in ("two Authorization headers", "?access_token="):
            params.append(pytest.param(row, guard, id=f"{method} {path} x {guard} -> 400"))
    return params


@pytest.mark.parametrize(("row", "guard"), _endpoints())
async def test_request_guards(world: World, row: Row, guard: str) -> None:
    """Tokens only in one Authorization header: the admin's own token twice, or in the URL
    (with no header), is a 400 before anything else (an invalid body, were it read, 422)."""
    url = row.path.format(**world.ids)
    body = INVALID if row.method in ("POST", "PUT") else None
    token = world.tokens["admin"]
    if guard == "?access_token=":
        resp = await world.http.request(row.method, url, json=body, params={"access_token": token})
        assert "Authorization header only" in assert_problem(resp, 400)["detail"]
        assert token not in resp.text
    else:
        twice = [("Authorization", f"Bearer {token}")] * 2
        resp = await world.http.request(row.method, url, json=body, headers=twice)
        assert "one Authorization header" in assert_problem(resp, 400)["detail"]


# ------------------------------------------------------------------- the webhook's own rows


async def test_the_webhook_answers_to_its_signature_only(world: World) -> None:
    """Signed with a configured secret (the older one too): the body is read (an unknown
    envelope: 404; an invalid body: 422); a wrong signature is 401 whatever the bearer."""
    path = "/v1/webhooks/esign"

    async def post(raw: bytes, signature: str, who: str = "none") -> httpx.Response:
        headers = {
            **world.headers[who],
            "Content-Type": "application/json",
            "X-DocuSign-Signature-1": signature,
        }
        return await world.http.post(path, content=raw, headers=headers)

    event = httpx.Request("POST", "/", json=WEBHOOK_EVENT).content
    invalid = httpx.Request("POST", "/", json=INVALID).content
    for secret in SECRETS:
        assert_problem(await post(event, sign_body(secret, event)), 404)
        assert_problem(await post(invalid, sign_body(secret, invalid)), 422)
    assert_problem(await post(event, sign_body("not-the-secret", event), "admin"), 401)
    assert_problem(await post(invalid, sign_body("not-the-secret", invalid), "admin"), 401)
    assert_problem(await post(event, sign_body(SECRETS[0], invalid)), 401)


# ------------------------------------------------- the issue's regression scenarios (API)


def _deal_by(world: World, **changes: Any) -> dict[str, Any]:
    body = deal(
        world.fresh("reg"),
        partner_id=world.ids["partner"],
        approver=world.ids["approver_user"],
        signatory=world.ids["signer"],
    )
    body.update(changes)
    return body


async def _refused(world: World, path: str, body: Any, who: str, field: str, kind: str) -> None:
    resp = await world.http.post(path, json=body, headers=world.headers[who])
    problem = assert_problem(resp, 422, field=field)
    assert {e["field"]: e["type"] for e in problem["errors"]} == {field: kind}


async def test_an_owner_naming_himself_plan_approver_is_a_422(world: World) -> None:
    field = "body.plan_approvers.0"
    olga = world.ids["olga"]  # owner and approver; her token acts as owner
    body = _deal_by(world, plan_approvers=[olga])
    await _refused(world, "/v1/deals", body, "olga", field, "separation_of_duties")
    body = _deal_by(world, plan_approvers=[world.ids["owner_a_user"]])  # owner role only
    await _refused(world, "/v1/deals", body, "owner_a", field, "missing_role")


async def test_an_owner_naming_himself_signatory_is_a_422(world: World) -> None:
    field = "body.licensor_signatory"
    body = _deal_by(world, licensor_signatory=world.ids["olga"])
    await _refused(world, "/v1/deals", body, "olga", field, "separation_of_duties")
    body = _deal_by(world, licensor_signatory=world.ids["owner_a_user"])
    await _refused(world, "/v1/deals", body, "owner_a", field, "missing_role")


async def test_a_chain_approver_who_is_a_partner_user_is_a_422(world: World) -> None:
    field = "body.partner_approval_chain.0.approvers.0"
    # an approver bound to the candidate partner
    body = _deal_by(world)
    body["partner_approval_chain"][0]["approvers"] = [world.ids["acme_boss"]]
    await _refused(world, "/v1/deals", body, "owner_a", field, "separation_of_duties")
    # the candidate's contact user (partner role only)
    body = _deal_by(world)
    body["partner_approval_chain"][0]["approvers"] = [world.ids["partner_a_user"]]
    await _refused(world, "/v1/deals", body, "owner_a", field, "missing_role")


async def test_a_partner_with_someone_elses_contact_user_is_a_422(world: World) -> None:
    for who in ("admin", "owner_a"):
        body = partner(world.fresh("initech"), world.ids["partner_a_user"])  # bound to acme
        await _refused(world, "/v1/partners", body, who, "body.contact_user", "wrong_partner")
        body = partner(world.fresh("initech"), world.ids["approver_user"])  # no partner role
        await _refused(world, "/v1/partners", body, who, "body.contact_user", "missing_role")


async def test_an_admin_terminates_an_owners_deal(world: World) -> None:
    deal_id = (await fresh_deal(world))["deal"]
    resp = await world.http.post(
        f"/v1/deals/{deal_id}/terminate",
        json={"reason": "licensee insolvent"},
        headers=world.headers["admin"],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["stage"] == "terminated"
    row = await world.pool.fetchrow(
        "SELECT actor, detail FROM audit_log WHERE deal_id = $1 AND action = 'deal.terminate'",
        deal_id,
    )
    assert row is not None and row["actor"] == world.name("ada")
