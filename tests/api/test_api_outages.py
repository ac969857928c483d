"""Outages answer 503 problem+json with Retry-After, logged once per outage; every answer,
5xx included, carries X-Request-ID; no call waits on Temporal longer than its bound."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from api_helpers import Api, assert_problem, provision_people, provision_property
from api_samples import deal, partner
from polling import eventually
from structlog.testing import capture_logs
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.outages import Outages
from licenseflow.config import Settings
from store import users
from store.pool import create_pool
from store.tokens import create_token


async def _get(app: Any, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        return await http.get(path, **kwargs)


async def test_postgres_down_is_503_with_retry_after_and_one_log_line(
    dev_env: WorkflowEnvironment, db_url: str, settings: Settings, monkeypatch: Any
) -> None:
    monkeypatch.setattr("api.outages.PROBE_INTERVAL", 0.05)
    # a pool whose server is gone: every connection attempt is refused
    pool = await create_pool("postgresql://nobody@127.0.0.1:1/none", min_size=0, max_size=1)
    app = create_app(settings, pool=pool, client=dev_env.client)
    headers = {"Authorization": "Bearer lf_whatever"}
    with capture_logs() as logs:
        answers = [await _get(app, "/v1/deals", headers=headers) for _ in range(5)]
    for resp in answers:
        body = assert_problem(resp, 503)
        assert resp.headers["retry-after"] == "5"
        assert resp.headers["x-request-id"] == body["request_id"]
        assert "postgres is unavailable" in body["detail"]
    assert [e["event"] for e in logs if "postgres" in e["event"]] == ["postgres.unavailable"]
    assert not [e for e in logs if e.get("log_level") in ("error", "critical")]
    outages: Outages = app.state.outages
    assert outages.is_down("postgres")
    await outages.close()
    await pool.close()


async def test_a_bug_raising_an_os_error_stays_a_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise FileNotFoundError("templates/missing.txt")

    monkeypatch.setattr("store.partners.get", broken)
    resp = await api.http.get("/v1/partners/acme", headers=await api.auth("ada", "admin"))
    assert_problem(resp, 500)


async def test_a_backend_coming_back_is_logged_once(
    dev_env: WorkflowEnvironment, pool: Any, settings: Settings, monkeypatch: Any
) -> None:
    monkeypatch.setattr("api.outages.PROBE_INTERVAL", 0.05)
    app = create_app(settings, pool=pool, client=dev_env.client)
    outages: Outages = app.state.outages
    with capture_logs() as logs:
        outages.report("postgres", ConnectionRefusedError("refused"))
        outages.report("postgres", ConnectionRefusedError("refused again"))
        # the probe (SELECT 1 on a live pool) notices the recovery
        await eventually(
            lambda: asyncio.sleep(0, outages.is_down("postgres")), lambda down: not down, within=5
        )
    assert [e["event"] for e in logs] == ["postgres.unavailable", "postgres.available"]


async def test_temporal_unreachable_is_503(db_url: str, pool: Any, settings: Settings) -> None:
    client = await Client.connect("127.0.0.1:1", lazy=True)
    app = create_app(
        settings.model_copy(update={"temporal_call_timeout": 1.0}), pool=pool, client=client
    )
    await users.ensure(pool, "oscar", ["ops"])
    token = await create_token(pool, "oscar", ["ops"])
    resp = await _get(app, "/v1/deals", headers={"Authorization": f"Bearer {token}"})
    assert_problem(resp, 503)
    assert resp.headers["retry-after"] == "5"
    await app.state.outages.close()


async def test_a_decision_on_a_deal_without_a_worker_is_503_within_the_bound(api: Api) -> None:
    """No worker polls: the update cannot be answered; the API gives up after its bound."""
    fast = api.settings.model_copy(update={"temporal_call_timeout": 1.0})
    app = create_app(fast, pool=api.pool, client=api.client)
    admin = await api.auth("ada", "admin")
    partner_id = api.name("acme")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        registration = partner(partner_id, "acme-ops")
        await provision_people(api, "/v1/partners", registration)
        await http.post("/v1/partners", json=registration, headers=admin)
        body = deal(api.name("moon"), partner_id=partner_id, approver="carol", signatory="sam")
        await provision_people(api, "/v1/deals", body)
        await provision_property(api.pool, body)
        owner = await api.auth(api.name("olivia"), "owner")
        assert (await http.post("/v1/deals", json=body, headers=owner)).status_code == 201
        started = time.monotonic()
        resp = await http.post(
            f"/v1/deals/{body['deal_id']}/terminate", json={"reason": "x"}, headers=owner
        )
        took = time.monotonic() - started
    assert_problem(resp, 503)
    assert "worker" in resp.json()["detail"]
    assert took < 5, took
    await app.state.outages.close()
    await api.client.get_workflow_handle(f"deal-{body['deal_id']}").terminate("test over")


async def test_unexpected_errors_are_500_with_the_request_id_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("store.partners.get", broken)
    headers = await api.auth("ada", "admin")
    with capture_logs() as logs:
        resp = await api.http.get("/v1/partners/acme", headers=headers)
    body = assert_problem(resp, 500)
    assert resp.headers["x-request-id"] == body["request_id"]
    [line] = [e for e in logs if e["event"] == "request.failed"]
    assert line["request_id"] == body["request_id"]
