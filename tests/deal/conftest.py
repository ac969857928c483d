"""Fixtures for LicensingDeal tests: a seeded partner and a running deal worker per server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from deal_helpers import deal_worker, seed_partner
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import terminate_leftovers

from licenseflow.config import Settings


@pytest_asyncio.fixture(loop_scope="session")
async def acme(pool: asyncpg.Pool) -> str:
    """Partner `acme` stored in Postgres (passes screening for the test scope)."""
    await seed_partner(pool, "acme")
    return "acme"


@pytest_asyncio.fixture(loop_scope="session")
async def cleanup() -> AsyncIterator[None]:
    """Terminate the test's deals that are still running (for tests managing workers)."""
    try:
        yield
    finally:
        await terminate_leftovers()


@pytest_asyncio.fixture(loop_scope="session")
async def time_worker(
    time_env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    settings: Settings,
    task_queue: str,
    acme: str,
) -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping server with a deal worker on `task_queue`."""
    async with deal_worker(time_env.client, pool, settings, task_queue):
        try:
            yield time_env
        finally:
            await terminate_leftovers()


@pytest_asyncio.fixture(loop_scope="session")
async def dev_worker(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str, acme: str
) -> AsyncIterator[WorkflowEnvironment]:
    """Dev server with a deal worker on `task_queue`."""
    async with deal_worker(dev_env.client, pool, settings, task_queue):
        try:
            yield dev_env
        finally:
            await terminate_leftovers()
