"""Fixtures for LicensingDeal tests: a seeded partner and a running deal worker per server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from deal_helpers import deal_worker, seed_partner, terminate_leftovers
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from licenseflow.config import Settings
from workflows import search_attributes

_registered: set[int] = set()


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    """The time-skipping server refuses unknown search attributes: register ours once."""
    if id(env) in _registered:
        return
    kinds = {
        "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "KEYWORD_LIST": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    }
    for key in search_attributes.ALL:
        try:
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=env.client.namespace,
                    search_attributes={key.name: kinds[key.indexed_value_type.name]},
                )
            )
        except RPCError as error:  # registered already (by another test module)
            if "already" not in str(error).lower():
                raise
    _registered.add(id(env))


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
    await register_search_attributes(time_env)
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
