"""Bind workflow_id / run_id / deal_id / activity into structlog for every activity execution."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context: dict[str, Any] = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        deal_id = next((getattr(a, "deal_id", None) for a in input.args), None)
        if isinstance(deal_id, str):
            context["deal_id"] = deal_id
        with structlog.contextvars.bound_contextvars(**context):
            return await super().execute_activity(input)


class LogContextInterceptor(Interceptor):
    """Worker interceptor: activity log lines carry the workflow and deal they work for."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)
