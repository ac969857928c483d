"""Fixtures for PartnerApproval tests: a worker on the dev server or the time-skipping server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from approval_helpers import approval_worker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import terminate_leftovers

from licenseflow.config import Settings


@pytest_asyncio.fixture(loop_scope="session")
async def dev_client(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> AsyncIterator[Client]:
    """Dev-server client with a PartnerApproval worker polling `task_queue`."""
    async with approval_worker(dev_env.client, pool, settings, task_queue):
        yield dev_env.client
        await terminate_leftovers()


@pytest_asyncio.fixture(loop_scope="session")
async def time_client(
    time_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> AsyncIterator[Client]:
    """Time-skipping client with a PartnerApproval worker polling `task_queue`."""
    async with approval_worker(time_env.client, pool, settings, task_queue):
        yield time_env.client
        await terminate_leftovers()
