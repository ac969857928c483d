"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Svc

router = APIRouter(tags=["health"])
_PROBE_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Temporal or Postgres unreachable"}})
async def readyz(svc: Svc) -> JSONResponse:
    """Temporal and Postgres are reachable."""
    checks = {"postgres": await _postgres(svc), "temporal": await _temporal(svc)}
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
