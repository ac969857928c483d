"""FastAPI application factory: routes, problem+json errors, request ids, app services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from temporalio.client import Client

from api.deps import Services
from api.middleware import BodyLimitMiddleware, RequestIdMiddleware
from api.problems import install_fallback_handler, install_problem_handlers
from api.routes import deals, health, notifications, partners, sales, tasks, webhooks
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
            app.state.services = Services(settings=settings, pool=db, client=temporal)
            yield
        finally:
            if own_pool:
                await db.close()

    app = FastAPI(
        title="Licenseflow API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    if pool is not None and client is not None:
        # usable without running the lifespan (e.g. transports that skip it)
        app.state.services = Services(settings=settings, pool=pool, client=client)
    install_problem_handlers(app)
    install_fallback_handler(app)
    app.add_middleware(BodyLimitMiddleware)  # inside the request id (added last = outermost)
    app.add_middleware(RequestIdMiddleware)
    for module in (health, partners, deals, sales, tasks, notifications, webhooks):
        app.include_router(module.router)
    return app


async def _open_pool(settings: Settings) -> asyncpg.Pool:
    from store.pool import create_pool
    from workers.main import resolve_database_url

    return await create_pool(await resolve_database_url(settings))


async def _connect(settings: Settings) -> Client:
    from licenseflow.temporal_client import connect

    return await connect(settings)
