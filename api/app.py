"""FastAPI application factory: routes, problem+json errors, the HTTP edge (client address,
request ids, guards, security headers, rate limits, denied-access audit), self-hosted docs,
app services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI
from temporalio.client import Client

from api.denied import DenialBudget, DeniedAuditMiddleware
from api.deps import Services
from api.docs_assets import install_docs
from api.middleware import (
    BodyLimitMiddleware,
    ClientAddressMiddleware,
    ErrorMiddleware,
    JsonBodyMiddleware,
    RequestGuardMiddleware,
    RequestIdMiddleware,
)
from api.outages import Outages
from api.problems import document_problems, install_problem_handlers
from api.ratelimit import RateLimiter, RateLimitMiddleware
from api.routes import (
    codec,
    deals,
    health,
    notifications,
    partners,
    properties,
    sales,
    statements,
    tasks,
    tokens,
    users,
    webhooks,
)
from api.routes.codec import CodecCorsMiddleware
from api.routes.health import worker_polls
from api.security_headers import SecurityHeadersMiddleware
from licenseflow.config import Settings, get_settings

DESCRIPTION = """
Licensing deals as durable workflows. Authenticate with `Authorization: Bearer <token>`
(`licenseflow token create`). Errors are RFC 9457 `application/problem+json`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    client: Client | None = None,
) -> FastAPI:
    """The API; `pool` and `client` may be injected (tests), else they are opened at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_pool = pool is None
        db = pool or await _open_pool(settings)
        try:
            temporal = client or await _connect(settings)
            _serve(app, Services(settings=settings, pool=db, client=temporal))
            yield
        finally:
            outages = getattr(app.state, "outages", None)
            if outages is not None:
                await outages.close()
            if own_pool:
                await db.close()

    app = FastAPI(
        title="Licenseflow API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs from local assets, no CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json",
    )
    if pool is not None and client is not None:
        # usable without running the lifespan (e.g. transports that skip it)
        _serve(app, Services(settings=settings, pool=pool, client=client))
    install_problem_handlers(app)
    install_docs(app)
    # added innermost first; each answer passes through every middleware added after it
    app.add_middleware(ErrorMiddleware)  # innermost: its answers get the request id too
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(
        DeniedAuditMiddleware,
        budget=DenialBudget(settings.denied_audit_per_minute, settings.rate_limit_keys),
    )
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(settings))
    # /codec/* only: preflights answered before the rate limits, CORS headers on every answer
    app.add_middleware(CodecCorsMiddleware, origins=settings.codec_origins)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxy_networks)
    for module in (health, partners, properties, deals, sales, statements, tasks, notifications):
        app.include_router(module.router)
    app.include_router(webhooks.router)
    for module in (users, tokens):  # the directory (admin only)
        app.include_router(module.router)
    app.include_router(codec.router)  # the remote codec server (ops, admin)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document states the bearer scheme and every problem status."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def _serve(app: FastAPI, services: Services) -> None:
    """Make the services and their outage tracking available to every request."""
    app.state.services = services
    app.state.outages = Outages(
        {
            "postgres": lambda: services.pool.fetchval("SELECT 1"),
            "temporal": lambda: services.client.service_client.check_health(
                timeout=services.rpc_timeout
            ),
            "worker": lambda: worker_polls(services),
        }
    )


async def _open_pool(settings: Settings) -> asyncpg.Pool:
    from store.pool import create_pool
    from workers.main import resolve_database_url

    return await create_pool(await resolve_database_url(settings))


async def _connect(settings: Settings) -> Client:
    from licenseflow.temporal_client import connect

    return await connect(settings)
