"""Fixtures for PartnerApproval tests: a worker on the dev server or the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from approval_helpers import approval_worker, end_leftovers
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from licenseflow.config import Settings
from workflows import search_attributes


@pytest_asyncio.fixture(loop_scope="session")
async def dev_client(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> AsyncIterator[Client]:
    """Dev-server client with a PartnerApproval worker polling `task_queue`."""
    async with approval_worker(dev_env.client, pool, settings, task_queue):
        yield dev_env.client
        await end_leftovers(task_queue)


@pytest_asyncio.fixture(loop_scope="session")
async def time_client(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> AsyncIterator[Client]:
    """Time-skipping client with a PartnerApproval worker polling `task_queue`."""
    await register_search_attributes(time_env.client)
    async with approval_worker(time_env.client, pool, settings, task_queue):
        yield time_env.client
        await end_leftovers(task_queue)


async def register_search_attributes(client: Client) -> None:
    """The time-skipping server starts without our custom search attributes: add them."""
    request = AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={key.name: key.indexed_value_type for key in search_attributes.ALL},
    )
    try:
        await client.operator_service.add_search_attributes(request)
    except RPCError as error:
        if error.status != RPCStatusCode.ALREADY_EXISTS:
            raise
