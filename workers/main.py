"""Worker entry point: one worker on the `licensing` task queue with every workflow/activity."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from licenseflow.config import Settings, get_settings
from workers.activity_errors import DataErrorInterceptor
from workers.log_context import LogContextInterceptor

log = structlog.get_logger(__name__)


PASSTHROUGH = ("pydantic", "domain", "email_validator", "idna")
"""Always passed through: pydantic (required, or the worker stalls), the e-mail validation
`EmailStr` imports lazily, and our pure `domain`."""


def sandbox_runner(*, strict: bool = False) -> SandboxedWorkflowRunner:
    """The workflow sandbox. Unless `strict`, our `workflows` package is passed through too:
    imported once per worker instead of once per workflow run (issue 14, `bench/month_end.py`,
    200 deals: about 950 KB -> 240 KB of worker memory per cached deal, and a third less
    worker CPU per deal-period).
    The sandbox then still refuses restricted calls made through names imported inside it
    (`from datetime import datetime` in a function), but not through the module-level
    imports of passed-through modules, so: the test suite and the replayer run `strict`
    (every workflow path they take is checked by the full sandbox), and
    `tests/test_workflow_code.py` checks statically that `workflows/` imports only
    deterministic modules, calls no clock, randomness or I/O, and holds no module-level
    mutable state (shared across runs once passed through)."""
    modules = PASSTHROUGH if strict else (*PASSTHROUGH, "workflows")
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*modules)
    )


def build_worker(
    client: Client,
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    task_queue: str | None = None,
    workflows: Sequence[type] | None = None,
    activities: Sequence[Callable[..., Any]] | None = None,
) -> Worker:
    """A worker with the full registry (or the given subset, for tests)."""
    from workers import registry

    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=list(workflows if workflows is not None else registry.workflow_classes()),
        activities=list(
            activities if activities is not None else registry.activity_functions(pool, settings)
        ),
        workflow_runner=sandbox_runner(strict=settings.strict_sandbox),
        interceptors=[LogContextInterceptor(), DataErrorInterceptor()],
        max_concurrent_activities=settings.max_concurrent_activities,
        max_cached_workflows=settings.max_cached_workflows,
    )


async def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded Postgres under the data dir."""
    if settings.database_url:
        return settings.database_url
    from store.embedded import ensure_embedded_postgres

    return await asyncio.to_thread(ensure_embedded_postgres, settings.data_dir)


async def run_worker(settings: Settings | None = None) -> None:
    """Run the Temporal worker, the outbox dispatcher, the report reconciler and the overdue
    invoice reminders until SIGINT/SIGTERM, then finish in-flight tasks and exit."""
    from licenseflow.temporal_client import connect
    from store.pool import create_pool
    from workers.notify_transports import transport_from_settings
    from workers.outbox import OutboxDispatcher
    from workers.overdue import OverdueReminders
    from workers.reconcile import ReportReconciler

    settings = settings or get_settings()
    # at a month-end every activity slot runs a Postgres activity at once: with the old pool
    # of 10 they queued for a connection (7.6% of the worker's time in the bench's profile)
    pool = await create_pool(
        await resolve_database_url(settings), max_size=settings.worker_db_pool_size
    )
    client = await connect(settings)
    worker = build_worker(client, pool, settings)
    dispatcher = OutboxDispatcher(pool, transport_from_settings(settings, pool))
    reconciler = ReportReconciler(client, pool)
    reminders = OverdueReminders(pool)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    log.info("worker.started", task_queue=settings.task_queue, address=settings.temporal_address)
    try:
        async with worker:
            await asyncio.gather(
                stop.wait(),
                dispatcher.run_until(stop),
                reconciler.run_until(stop),
                reminders.run_until(stop),
            )
    finally:
        await pool.close()
        log.info("worker.stopped")
