"""Activity log lines carry workflow_id, run_id, deal_id and the activity name."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from probe_workflows import LogContextProbe
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from domain.activity_io import AuditEntry
from licenseflow.config import Settings
from workers.main import build_worker


@activity.defn(name="report_log_context")
async def report_log_context(entry: AuditEntry) -> dict[str, Any]:
    return dict(structlog.contextvars.get_contextvars())


async def test_activities_run_with_workflow_and_deal_bound(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> None:
    worker = build_worker(
        dev_env.client,
        pool,
        settings,
        task_queue=task_queue,
        workflows=[LogContextProbe],
        activities=[report_log_context],
    )
    async with worker:
        handle = await dev_env.client.start_workflow(
            LogContextProbe.run, "moonbear-eu", id=f"probe-{task_queue}", task_queue=task_queue
        )
        context = await handle.result()

    assert context == {
        "workflow_id": f"probe-{task_queue}",
        "run_id": handle.result_run_id,
        "activity": "report_log_context",
        "attempt": 1,
        "deal_id": "moonbear-eu",
    }
    assert structlog.contextvars.get_contextvars() == {}
