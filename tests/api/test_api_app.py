"""The app factory: lifespan-owned pool and client, readiness failures, OpenAPI."""

from __future__ import annotations

import asyncpg
import httpx
from api_helpers import Api, assert_problem
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from licenseflow.config import Settings
from store import users
from store.pool import create_pool
from store.tokens import create_token


async def test_lifespan_opens_pool_and_client_from_settings(
    dev_env: WorkflowEnvironment, db_url: str
) -> None:
    address = dev_env.client.service_client.config.target_host
    settings = Settings(DATABASE_URL=db_url, TEMPORAL_ADDRESS=address)  # type: ignore[call-arg]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            ready = await http.get("/readyz")
            checks = ready.json()["checks"]
            assert (checks["postgres"], checks["temporal"]) == ("ok", "ok")
            assert_problem(await http.get("/v1/tasks"), 401)


async def test_readyz_is_503_when_postgres_is_gone(
    dev_env: WorkflowEnvironment, db_url: str, settings: Settings
) -> None:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    await pool.close()
    app = create_app(settings, pool=pool, client=dev_env.client)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        resp = await http.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["checks"]["temporal"] == "ok"
    assert resp.json()["checks"]["postgres"].startswith("error")


async def test_openapi_documents_every_v1_route(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert {
        "/v1/partners",
        "/v1/partners/{partner_id}",
        "/v1/deals",
        "/v1/deals/{deal_id}",
        "/v1/deals/{deal_id}/sales-reports",
        "/v1/deals/{deal_id}/terminate",
        "/v1/deals/{deal_id}/statements",
        "/v1/deals/{deal_id}/audit",
        "/v1/statements",
        "/v1/statements/{statement_id}",
        "/v1/statements/{statement_id}/payments",
        "/v1/tasks",
        "/v1/tasks/{task_id}/decision",
        "/v1/webhooks/esign",
        "/healthz",
        "/readyz",
    } <= spec["paths"].keys()
    docs = await api.http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_token_use_is_recorded_at_most_once_a_minute(api: Api, pool: asyncpg.Pool) -> None:
    await users.ensure(pool, "olivia", ["owner"])
    token = await create_token(pool, "olivia", ["owner"])
    headers = {"Authorization": f"Bearer {token}"}
    await api.http.get("/v1/partners/none", headers=headers)
    first = await pool.fetchval("SELECT last_used_at FROM api_tokens WHERE user_name = 'olivia'")
    await api.http.get("/v1/partners/none", headers=headers)
    second = await pool.fetchval("SELECT last_used_at FROM api_tokens WHERE user_name = 'olivia'")
    assert first is not None and second == first


async def test_openapi_states_bearer_auth_and_every_problem_status(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    create = spec["paths"]["/v1/deals"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert {"400", "401", "403", "404", "409", "413", "415", "422", "429", "503"} <= set(
        create["responses"]
    )
    assert create["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "security" not in spec["paths"]["/v1/webhooks/esign"]["post"]
    # the bounds of the inputs are in the schema, for clients and schema-driven fuzzers
    schemas = spec["components"]["schemas"]
    title = schemas["DealRequest-Input"]["properties"]["title"]
    assert title["maxLength"] == 200 and "pattern" in title


async def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    headers = {**(await api.auth("olivia", "owner")), "Content-Type": "text/plain"}
    resp = await api.http.post("/v1/deals", content=b"deal_id=x", headers=headers)
    assert_problem(resp, 415)
    assert resp.headers["x-request-id"]
