"""A trivial workflow proving the stack end to end: worker → activity → Postgres."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from domain.activity_io import AuditEntry
from domain.common import Model
from workflows.activity_options import CommonActivities


class SmokeInput(Model):
    actor: str = "smoke"
    message: str = "hello"


class SmokeResult(Model):
    written: bool
    idempotency_key: str


@workflow.defn(name="Smoke")
class SmokeWorkflow:
    @workflow.run
    async def run(self, params: SmokeInput) -> SmokeResult:
        key = f"{workflow.info().workflow_id}/smoke/{workflow.uuid4()}"
        written = await workflow.execute_activity_method(
            CommonActivities.record_audit,
            AuditEntry(
                idempotency_key=key,
                actor=params.actor,
                action="smoke.ping",
                workflow_id=workflow.info().workflow_id,
                detail={"message": params.message},
            ),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        return SmokeResult(written=written, idempotency_key=key)
