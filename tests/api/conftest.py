"""API fixtures: the app with an injected pool and dev-server client, stub or real workers."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest_asyncio
from api_helpers import Api, provision_request
from api_stubs import StubDeal, StubPartnerApproval
from temporalio.testing import WorkflowEnvironment

from activities.deal import DealActivities
from api.app import create_app
from licenseflow.config import Settings
from workers.main import build_worker

SECRETS = "new-secret,old-secret"


@pytest_asyncio.fixture(loop_scope="session")
async def api(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, db_url: str, task_queue: str
) -> AsyncIterator[Api]:
    """The API over ASGI, starting workflows on this test's own task queue. Rate limits are
    off (tests poll from one address with one token); tests/api/test_api_edge.py tests them."""
    settings = Settings(  # type: ignore[call-arg]
        DATABASE_URL=db_url,
        LICENSEFLOW_TASK_QUEUE=task_queue,
        LICENSEFLOW_ESIGN_SECRETS=SECRETS,
        LICENSEFLOW_RATE_LIMIT=False,
    )
    app = create_app(settings, pool=pool, client=dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        harness = Api(
            http=http,
            pool=pool,
            client=dev_env.client,
            settings=settings,
            uid=uuid.uuid4().hex[:8],
        )
        # the users a posted partner or deal names exist (api/people.py checks them)
        http.event_hooks["request"].append(functools.partial(provision_request, harness))
        yield harness


@pytest_asyncio.fixture(loop_scope="session")
async def stub_api(api: Api) -> AsyncIterator[Api]:
    """`api` plus a worker running the stand-in LicensingDeal/PartnerApproval workflows and
    the real read-model activity they call."""
    worker = build_worker(
        api.client,
        api.pool,
        api.settings,
        task_queue=api.settings.task_queue,
        workflows=[StubDeal, StubPartnerApproval],
        activities=[DealActivities(api.pool).sync_deal_read_model],
    )
    async with worker:
        yield api


@pytest_asyncio.fixture(loop_scope="session")
async def real_api(api: Api) -> AsyncIterator[Api]:
    """`api` plus a worker with the full registry (every real workflow and activity)."""
    async with build_worker(api.client, api.pool, api.settings, task_queue=api.settings.task_queue):
        yield api
