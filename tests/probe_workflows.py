"""Test-only workflows. Kept apart from test modules: the sandbox re-imports a workflow's
module, and test modules import C extensions (asyncpg) that must not be imported twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from domain.activity_io import AuditEntry


@workflow.defn(name="LogContextProbe")
class LogContextProbe:
    """Runs the `report_log_context` activity for a deal and returns what it saw."""

    @workflow.run
    async def run(self, deal_id: str) -> dict[str, Any]:
        return await workflow.execute_activity(
            "report_log_context",
            AuditEntry(idempotency_key="k", actor="probe", action="probe", deal_id=deal_id),
            result_type=dict,
            start_to_close_timeout=timedelta(seconds=10),
        )
