"""The HTTP edge: server-made request ids, client addresses behind trusted proxies only,
audit rows with token and address, denied attempts audited (bounded), request guards,
secrets kept out of logs, rate limits, security headers and self-hosted docs."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from api_helpers import Api, assert_problem, provision_request
from api_samples import partner
from fastapi import FastAPI

from api.app import create_app
from api.denied import DenialBudget, DeniedAuditMiddleware
from api.middleware import ClientAddressMiddleware, clean_client_request_id
from api.ratelimit import RateLimiter, RateLimitMiddleware, TokenBuckets
from licenseflow.config import Settings, parse_networks
from licenseflow.logging import configure_logging
from licenseflow.redact import redact_text


class FakeClock:
    """Monotonic time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _option(app: FastAPI, cls: type, name: str) -> Any:
    for middleware in app.user_middleware:
        if middleware.cls is cls:
            return middleware.kwargs[name]
    raise LookupError(cls)


@contextlib.asynccontextmanager
async def edge_app(
    api: Api, *, peer: str = "127.0.0.1", **env: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI, FakeClock]]:
    """An app of its own (settings `env`), its clocks frozen, called from `peer`."""
    settings = Settings(  # type: ignore[call-arg]
        DATABASE_URL=api.settings.database_url,
        LICENSEFLOW_TASK_QUEUE=api.settings.task_queue,
        **env,
    )
    app = create_app(settings, pool=api.pool, client=api.client)
    clock = FakeClock()
    _option(app, RateLimitMiddleware, "limiter").clock = clock
    _option(app, DeniedAuditMiddleware, "budget").clock = clock
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        http.event_hooks["request"].append(functools.partial(provision_request, api))
        yield http, app, clock


async def _token_id(api: Api, user: str) -> str:
    found = await api.pool.fetchval("SELECT token_id FROM api_tokens WHERE user_name = $1", user)
    assert found is not None
    return str(found)


async def _denied(api: Api) -> list[dict[str, Any]]:
    rows = await api.pool.fetch(
        "SELECT actor, subject, detail, token_id, host(client_ip) AS client_ip FROM audit_log"
        " WHERE action = 'access.denied' ORDER BY id"
    )
    return [dict(r) for r in rows]


# ---- 1. request ids ------------------------------------------------------------------------


def test_a_client_request_id_is_cleaned_and_bounded() -> None:
    assert clean_client_request_id(b"abc-123") == "abc-123"
    assert clean_client_request_id(b"a\x07b\x1b[31m\r\nc\x7f") == "ab[31mc"
    assert clean_client_request_id("caf\u00e9\u200b!".encode()) == "caf\u00e9!"
    assert clean_client_request_id(b"\x00\x01 ") is None
    assert clean_client_request_id(b"x" * 1000) == "x" * 128


async def test_the_request_id_is_the_servers_and_the_clients_is_kept_apart(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    sent = b"trace-42\x1b[2J" + b"y" * 200
    created = await api.http.post(
        "/v1/partners",
        json=partner("acme", "acme-ops"),
        headers={**admin, "X-Request-ID": sent.decode("latin-1")},
    )
    assert created.status_code == 201, created.text
    request_id = created.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    row = await api.pool.fetchrow(
        "SELECT detail FROM audit_log WHERE action = 'partner.create' AND subject = 'acme'"
    )
    assert row is not None
    assert row["detail"]["request_id"] == request_id
    assert row["detail"]["client_request_id"] == ("trace-42[2J" + "y" * 200)[:128]


# ---- 2. client address: forwarded headers from trusted proxies only ----------------------


async def _resolve(
    trusted: str, peer: str, headers: list[tuple[bytes, bytes]]
) -> tuple[str | None, str, Any]:
    seen: dict[str, Any] = {}

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    app = ClientAddressMiddleware(inner, trusted=parse_networks(trusted))
    scope = {"type": "http", "client": (peer, 1234), "scheme": "http", "headers": headers}
    await app(scope, None, None)  # type: ignore[arg-type]
    return seen["state"]["client_ip"], seen["scheme"], seen["client"]


XFF = b"x-forwarded-for"
XFP = b"x-forwarded-proto"


async def test_forwarded_headers_are_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    spoofed = [(XFF, b"6.6.6.6"), (XFP, b"https")]
    assert await _resolve("", "10.0.0.5", spoofed) == ("10.0.0.5", "http", ("10.0.0.5", 1234))
    assert await _resolve("10.0.0.0/8", "192.0.2.9", spoofed) == (
        "192.0.2.9",
        "http",
        ("192.0.2.9", 1234),
    )
    trusted = await _resolve("10.0.0.0/8, ::1", "10.0.0.5", spoofed)
    assert trusted == ("6.6.6.6", "https", ("6.6.6.6", 0))


async def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy() -> None:
    chain = [(XFF, b"1.1.1.1, 7.7.7.7"), (XFF, b"10.0.0.7")]  # 1.1.1.1 is the client's claim
    assert (await _resolve("10.0.0.0/8", "10.0.0.5", chain))[0] == "7.7.7.7"
    all_proxies = [(XFF, b"10.0.0.9, 10.0.0.8")]
    assert (await _resolve("10.0.0.0/8", "10.0.0.5", all_proxies))[0] == "10.0.0.9"
    garbage = [(XFF, b"not-an-ip, 10.0.0.8")]
    assert (await _resolve("10.0.0.0/8", "10.0.0.5", garbage))[0] == "10.0.0.8"
    ipv6 = [(XFF, b"2001:db8::1")]
    assert (await _resolve("10.0.0.0/8", "10.0.0.5", ipv6))[0] == "2001:db8::1"
    odd_proto = [(XFP, b"gopher")]
    assert (await _resolve("10.0.0.0/8", "10.0.0.5", odd_proto))[1] == "http"


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address"):
        Settings(LICENSEFLOW_TRUSTED_PROXIES="10.0.0.1,proxy.local")  # type: ignore[call-arg]
    assert Settings().trusted_proxy_networks == ()  # type: ignore[call-arg]


def test_uvicorn_is_told_not_to_rewrite_forwarded_headers(monkeypatch: Any) -> None:
    import uvicorn

    from licenseflow import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(cli, "_logging", lambda *a, **k: None)
    monkeypatch.setattr(cli, "_with_database", lambda settings: settings)
    settings = Settings(DATABASE_URL="postgresql://x/y")  # type: ignore[call-arg]
    assert cli.cmd_api(settings, None, None) == 0
    assert seen["proxy_headers"] is False
    assert seen["forwarded_allow_ips"] == ""


# ---- 3. audit rows carry the token and the client address ---------------------------------


async def test_audit_rows_carry_the_token_id_and_the_forwarded_client(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    async with edge_app(api, peer="10.1.2.3", LICENSEFLOW_TRUSTED_PROXIES="10.0.0.0/8") as (
        http,
        _,
        _,
    ):
        via_proxy = {**admin, "X-Forwarded-For": "203.0.113.7"}
        body = partner("acme", "acme-ops")
        assert (await http.post("/v1/partners", json=body, headers=via_proxy)).status_code == 201
    async with edge_app(api, peer="192.0.2.44") as (http, _, _):
        spoofed = {**admin, "X-Forwarded-For": "203.0.113.7"}
        body = partner("zeta", "zeta-ops")
        assert (await http.post("/v1/partners", json=body, headers=spoofed)).status_code == 201
    rows = await api.pool.fetch(
        "SELECT subject, token_id, host(client_ip) AS ip FROM audit_log"
        " WHERE action = 'partner.create' ORDER BY id"
    )
    token_id = await _token_id(api, "ada")
    assert [(r["subject"], r["token_id"], r["ip"]) for r in rows] == [
        ("acme", token_id, "203.0.113.7"),
        ("zeta", token_id, "192.0.2.44"),
    ]


async def test_a_client_address_that_is_no_ip_is_stored_as_null(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    async with edge_app(api, peer="testclient") as (http, _, _):
        body = partner("acme", "acme-ops")
        assert (await http.post("/v1/partners", json=body, headers=admin)).status_code == 201
    row = await api.pool.fetchrow("SELECT token_id, client_ip FROM audit_log")
    assert row is not None and row["client_ip"] is None and row["token_id"] is not None


# ---- 4. denied attempts are audited, bounded ----------------------------------------------


async def test_denied_attempts_are_audited_with_token_and_address(api: Api) -> None:
    approver = await api.auth("carol", "approver")
    forbidden = await api.http.post(
        "/v1/partners?x=1", json=partner("b", "b"), headers={**approver, "X-Request-ID": "mine"}
    )
    assert_problem(forbidden, 403)
    assert_problem(await api.http.get("/v1/tasks", headers={"Authorization": "Bearer lf_x"}), 401)
    assert_problem(await api.http.get("/v1/tasks"), 401)  # no credentials: not an attempt
    rows = await _denied(api)
    assert rows == [
        {
            "actor": "carol",
            "subject": "/v1/partners",
            "detail": {
                "path": "/v1/partners",
                "method": "POST",
                "status": 403,
                "request_id": forbidden.headers["x-request-id"],
                "client_request_id": "mine",
            },
            "token_id": await _token_id(api, "carol"),
            "client_ip": "127.0.0.1",
        },
        {
            "actor": "anonymous",
            "subject": "/v1/tasks",
            "detail": {
                "path": "/v1/tasks",
                "method": "GET",
                "status": 401,
                "request_id": rows[1]["detail"]["request_id"],
            },
            "token_id": None,
            "client_ip": "127.0.0.1",
        },
    ]


async def test_denied_attempts_are_audited_at_most_n_per_key_and_minute(api: Api) -> None:
    approver = await api.auth("carol", "approver")
    async with edge_app(
        api, LICENSEFLOW_DENIED_AUDIT_PER_MINUTE=3, LICENSEFLOW_RATE_LIMIT=False
    ) as (http, _, clock):
        for _ in range(5):
            assert (await http.post("/v1/partners", json={}, headers=approver)).status_code == 403
            bad = {"Authorization": "Bearer lf_nope"}
            assert (await http.get("/v1/tasks", headers=bad)).status_code == 401
        assert len(await _denied(api)) == 6  # 3 for carol's token, 3 for the address
        clock.now += 60
        assert (await http.post("/v1/partners", json={}, headers=approver)).status_code == 403
    rows = await _denied(api)
    assert len(rows) == 7
    assert rows[-1]["actor"] == "carol" and rows[-1]["detail"]["suppressed"] == 2


def test_the_denial_budget_is_bounded_in_keys() -> None:
    clock = FakeClock()
    budget = DenialBudget(per_minute=1, max_keys=100, clock=clock)
    for n in range(1000):
        assert budget.admit(f"ip:{n}") == 0
    assert len(budget) == 100
    assert budget.admit("ip:999") is None
    clock.now += 60
    assert budget.admit("ip:999") == 1


# ---- 5. request guards, secrets out of logs -----------------------------------------------


async def test_two_authorization_headers_are_a_400(api: Api) -> None:
    token = (await api.auth("ada", "admin"))["Authorization"]
    resp = await api.http.get(
        "/v1/partners/acme", headers=[("Authorization", token), ("Authorization", "Bearer lf_x")]
    )
    assert "one Authorization header" in assert_problem(resp, 400)["detail"]


async def test_a_token_in_the_query_string_is_refused_not_used(api: Api) -> None:
    token = (await api.auth("ada", "admin"))["Authorization"].removeprefix("Bearer ")
    resp = await api.http.get("/v1/partners/acme", params={"access_token": token})
    assert "Authorization header only" in assert_problem(resp, 400)["detail"]
    assert token not in resp.text


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("json", "INFO", force=True)
    try:
        yield capsys
    finally:
        structlog.reset_defaults()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if h.get_name() == "licenseflow"]:
            root.removeHandler(handler)
        import licenseflow.logging as lf_logging

        lf_logging._configured = None


def test_query_secrets_and_bearer_tokens_are_masked_in_every_log_line(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    token = "lf_" + "A1b2" * 10 + "xyz"
    # uvicorn's access log call, as uvicorn makes it
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "192.0.2.1:5000",
        "GET",
        f"/v1/tasks?limit=5&access_token={token}&token=t0psecret",
        "1.1",
        400,
    )
    structlog.get_logger("test").warning(
        "oops", header=f"Bearer {token}", nested={"url": f"/x?token={token}"}, note=token
    )
    out = json_logs.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert token not in out and "t0psecret" not in out
    assert lines[0]["event"] == (
        '192.0.2.1:5000 - "GET /v1/tasks?limit=5&access_token=[redacted]&token=[redacted]'
        ' HTTP/1.1" 400'
    )
    assert lines[1]["header"] == "Bearer [redacted]"
    assert lines[1]["nested"] == {"url": "/x?token=[redacted]"}
    assert lines[1]["note"] == "lf_[redacted]"


def test_redaction_leaves_other_text_alone() -> None:
    text = "GET /v1/statements?status=open&deal_id=moon HTTP/1.1 tokens=3"
    assert redact_text(text) == text


async def test_no_token_reaches_the_logs_of_a_denied_call(
    api: Api, json_logs: pytest.CaptureFixture[str]
) -> None:
    token = "lf_" + "Q" * 43
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": "client\x1b-7"}
    resp = await api.http.get(f"/v1/tasks?token={token}", headers=headers)
    assert resp.status_code == 401
    out = json_logs.readouterr().out
    assert token not in out
    [line] = [json.loads(x) for x in out.splitlines() if '"access.denied"' in x]
    assert line["request_id"] == resp.headers["x-request-id"]
    assert line["client_request_id"] == "client-7" and line["client_ip"] == "127.0.0.1"


# ---- 6. rate limits -----------------------------------------------------------------------


def test_a_token_bucket_refills_and_forgets_its_oldest_keys() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3, max_keys=10)
    assert [buckets.take(b"k", 0.0) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    assert buckets.take(b"k", 0.5) == 0.0  # one unit back after 1/rate seconds
    for n in range(100):
        buckets.take(str(n).encode(), 1.0)
    assert len(buckets) == 10 and buckets.level(b"k", 1.0) == 3  # forgotten: full again


async def test_a_thousand_bad_tokens_are_mostly_429(api: Api) -> None:
    """The issue measured 1,000 bad-token requests in 1.5 s, all 401 (each one a lookup)."""
    async with edge_app(api) as (http, _, _):
        statuses = [
            (await http.get("/v1/tasks", headers={"Authorization": f"Bearer lf_guess{n}"}))
            for n in range(1000)
        ]
    counts = {code: sum(1 for r in statuses if r.status_code == code) for code in (401, 429)}
    assert counts == {401: 10, 429: 990}
    throttled = statuses[-1]
    assert_problem(throttled, 429)
    assert throttled.headers["retry-after"] == "6"  # one more failure allowed every 6 s
    assert len(await _denied(api)) == 10  # every 401 audited, no 429


async def test_a_blocked_address_still_serves_tokens_seen_to_work(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    fresh = await api.auth("olivia", "owner")
    async with edge_app(api) as (http, _, clock):
        assert (await http.get("/v1/partners/none", headers=admin)).status_code == 404
        for n in range(10):
            bad = {"Authorization": f"Bearer lf_guess{n}"}
            assert (await http.get("/v1/tasks", headers=bad)).status_code == 401
        assert (
            await http.get("/v1/tasks", headers={"Authorization": "Bearer x"})
        ).status_code == 429
        assert (await http.get("/v1/partners/none", headers=admin)).status_code == 404
        assert (await http.get("/v1/partners/none", headers=fresh)).status_code == 429
        clock.now += 6  # one failure refilled
        assert (await http.get("/v1/partners/none", headers=fresh)).status_code == 404


async def test_codec_calls_have_buckets_of_their_own(api: Api) -> None:
    """The CLI and the Web UI send one codec call per payload: a history's hundreds of calls
    must not exhaust the token's API budget, nor the API calls the codec's; both stay bounded."""
    oscar = await api.auth("oscar", "ops")
    limits = {
        "LICENSEFLOW_TOKEN_BURST": 3,
        "LICENSEFLOW_IP_BURST": 6,
        "LICENSEFLOW_CODEC_BURST": 300,
    }
    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "Im1vb24i"}]}
    async with edge_app(api, **limits) as (http, _, _clock):
        codec = [
            (await http.post("/codec/decode", json=plain, headers=oscar)).status_code
            for _ in range(300)
        ]
        assert codec == [200] * 300, "a long history decodes without a 429"
        over = await http.post("/codec/decode", json=plain, headers=oscar)
        assert "from this address" in assert_problem(over, 429)["detail"], "the codec's own limit"
        api_calls = [(await http.get("/v1/tasks", headers=oscar)).status_code for _ in range(4)]
        assert api_calls == [200, 200, 200, 429], "the API budget is untouched by codec calls"


async def test_each_token_and_each_address_has_its_own_bucket(api: Api) -> None:
    ada = await api.auth("ada", "admin")
    bob = await api.auth("bob", "approver")
    limits = {
        "LICENSEFLOW_TOKEN_RATE": 1,
        "LICENSEFLOW_TOKEN_BURST": 3,
        "LICENSEFLOW_IP_RATE": 2,
        "LICENSEFLOW_IP_BURST": 6,
    }
    async with edge_app(api, **limits) as (http, _, clock):
        codes = [(await http.get("/v1/partners/none", headers=ada)).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        over = await http.get("/v1/partners/none", headers=ada)
        assert "with this token" in assert_problem(over, 429)["detail"]
        assert over.headers["retry-after"] == "1"
        assert (await http.get("/v1/partners/none", headers=bob)).status_code == 404
        # the address has spent its 6 (5 of ada's, 1 of bob's): 429 for anyone but probes
        nobody = await http.get("/v1/tasks")
        assert "from this address" in assert_problem(nobody, 429)["detail"]
        assert (await http.get("/healthz")).status_code == 200
        clock.now += 1
        assert (await http.get("/v1/partners/none", headers=ada)).status_code == 404


async def test_rate_limits_can_be_turned_off(api: Api) -> None:
    async with edge_app(api, LICENSEFLOW_RATE_LIMIT=False, LICENSEFLOW_IP_BURST=1) as (http, _, _):
        bad = {"Authorization": "Bearer lf_guess"}
        codes = {(await http.get("/v1/tasks", headers=bad)).status_code for _ in range(30)}
    assert codes == {401}


def test_the_limiter_is_bounded_in_keys() -> None:
    settings = Settings(LICENSEFLOW_RATE_LIMIT_KEYS=100)  # type: ignore[call-arg]
    limiter = RateLimiter(settings, clock=FakeClock())
    for n in range(1000):
        address, token = f"10.0.{n // 256}.{n % 256}".encode(), str(n).encode()
        limiter.admit(address, token)
        limiter.answered(address, token, 401 if n % 2 else 200, authenticated=n % 2 == 0)
    sizes = [len(limiter.by_token), len(limiter.by_address), len(limiter.failures)]
    assert sizes == [100, 100, 100] and len(limiter.authenticated) == 100


# ---- 8. security headers; 9. self-hosted docs ---------------------------------------------

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


async def test_every_answer_carries_the_security_headers(api: Api) -> None:
    bad_json = {**(await api.auth("ada", "admin")), "Content-Type": "text/plain"}
    answers = [
        await api.http.get("/healthz"),
        await api.http.get("/v1/tasks"),  # 401
        await api.http.get("/no/such/path"),  # 404
        await api.http.post("/v1/partners", content=b"x", headers=bad_json),  # 415
        await api.http.get("/openapi.json"),
    ]
    for resp in answers:
        assert {k: resp.headers.get(k) for k in COMMON_HEADERS} == COMMON_HEADERS, resp.url
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["content-security-policy"].startswith("default-src 'none'")
        assert "strict-transport-security" not in resp.headers
    assert [r.status_code for r in answers] == [200, 401, 404, 415, 200]


async def test_hsts_only_over_https_directly_or_from_a_trusted_proxy(api: Api) -> None:
    async with edge_app(api, peer="10.0.0.2", LICENSEFLOW_TRUSTED_PROXIES="10.0.0.2") as (
        http,
        _,
        _,
    ):
        proxied = await http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        plain = await http.get("/healthz")
    assert proxied.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in plain.headers
    async with edge_app(api, peer="192.0.2.1") as (http, _, _):
        spoofed = await http.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in spoofed.headers
    app = create_app(api.settings, pool=api.pool, client=api.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as https:
        direct = await https.get("/healthz")
    assert direct.headers["strict-transport-security"].startswith("max-age=")


_URL_ATTR = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


async def test_docs_are_served_from_this_app_only(api: Api) -> None:
    docs = await api.http.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    urls = _URL_ATTR.findall(docs.text)
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "<script>" not in docs.text  # no inline script: the CSP forbids it
    assert "://" not in docs.text
    csp = docs.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "http" not in csp
    for url in urls:
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
    init = await api.http.get("/static/docs-init.js")
    assert "validatorUrl: null" in init.text and "://" not in init.text
    bundle = await api.http.get("/static/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert bundle.headers["cache-control"] == "no-cache"
    assert (await api.http.get("/redoc")).status_code == 404  # ReDoc would load from a CDN
