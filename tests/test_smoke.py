"""The real stack pieces together: dev server + embedded Postgres + worker + activity."""

from __future__ import annotations

import asyncpg
from temporalio.testing import WorkflowEnvironment

from licenseflow.config import Settings
from workers.main import build_worker
from workflows.smoke import SmokeInput, SmokeResult, SmokeWorkflow


async def test_workflow_writes_through_activity_to_postgres(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> None:
    async with build_worker(dev_env.client, pool, settings, task_queue=task_queue):
        result = await dev_env.client.execute_workflow(
            SmokeWorkflow.run,
            SmokeInput(actor="tester", message="ping"),
            id=f"smoke-{task_queue}",
            task_queue=task_queue,
            result_type=SmokeResult,
        )

    assert result.written is True
    row = await pool.fetchrow(
        "SELECT actor, action, detail FROM audit_log WHERE idempotency_key = $1",
        result.idempotency_key,
    )
    assert row is not None
    assert (row["actor"], row["action"], row["detail"]) == (
        "tester",
        "smoke.ping",
        {"message": "ping"},
    )


async def test_migrations_create_every_table(pool: asyncpg.Pool) -> None:
    tables = {
        r["tablename"]
        for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {
        "partners",
        "deals",
        "sales_reports",
        "statements",
        "audit_log",
        "api_tokens",
        "notifications",
        "signature_envelopes",
        "schema_migrations",
    } <= tables
