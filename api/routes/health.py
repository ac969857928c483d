"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from api.deps import Services, Svc

router = APIRouter(tags=["health"])
_PROBE_TIMEOUT = 2.0
_POLL_WINDOW = timedelta(seconds=90)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "Postgres or Temporal unreachable, or no worker polls"}},
)
async def readyz(svc: Svc) -> JSONResponse:
    """Postgres and Temporal are reachable and a worker polls the task queue."""
    checks = {
        "postgres": await _postgres(svc),
        "temporal": await _temporal(svc),
        "worker": await _worker(svc),
    }
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _postgres(svc: Svc) -> str:
    try:
        async with asyncio.timeout(_PROBE_TIMEOUT):
            await svc.pool.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


async def _temporal(svc: Svc) -> str:
    try:
        ok = await svc.client.service_client.check_health(timeout=timedelta(seconds=_PROBE_TIMEOUT))
        return "ok" if ok else "error: not serving"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


async def _worker(svc: Svc) -> str:
    try:
        await worker_polls(svc)
        return "ok"
    except NoWorker as exc:
        return f"error: {exc}"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


class NoWorker(Exception):
    """No worker has polled the task queue recently."""


async def worker_polls(svc: Services) -> None:
    """Raise unless a worker polled the workflow task queue within the last 90 s (a long
    poll lasts up to a minute)."""
    request = DescribeTaskQueueRequest(
        namespace=svc.client.namespace,
        task_queue=TaskQueue(name=svc.settings.task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    answer = await svc.client.workflow_service.describe_task_queue(
        request, timeout=timedelta(seconds=_PROBE_TIMEOUT)
    )
    recent = datetime.now(UTC) - _POLL_WINDOW
    if not any(p.last_access_time.ToDatetime(tzinfo=UTC) > recent for p in answer.pollers):
        raise NoWorker(f"no worker polls task queue {svc.settings.task_queue}")
