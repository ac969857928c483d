"""Activities the deal workflow calls by name, with one timeout and retry policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from domain.activity_io import SEND_NOTIFICATION, Notification
from domain.deal_messages import (
    CHECK_SALES,
    ISSUE_STATEMENT,
    LOAD_PARTNER,
    SYNC_DEAL_READ_MODEL,
    DealReadModelInput,
    IssueStatementInput,
    LoadPartnerInput,
    SalesCheckInput,
    SalesCheckResult,
)
from domain.lifecycle import Statement
from domain.partner import PartnerProfile
from workflows.deal.bookkeeping import DealBookkeeping

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)


class ActivityCalls(DealBookkeeping):
    """Read model sync, partner loading, sales checks, statements, notifications."""

    async def _activity(self, name: str, arg: Any, result_type: type) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _sync(self) -> None:
        await self._activity(
            SYNC_DEAL_READ_MODEL,
            DealReadModelInput(
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
                stage=self._stage,
                partner_id=self._partner_id,
                kpi_status=self._kpi_status,
                request=None if self._recorded else self._req,
                created_by=None if self._recorded else self._created_by,
                request_id=None if self._recorded else self._request_id,
            ),
            bool,
        )
        self._recorded = True

    async def _load_partner(self, partner_id: str) -> PartnerProfile | None:
        try:
            return await self._activity(
                LOAD_PARTNER, LoadPartnerInput(partner_id=partner_id), PartnerProfile
            )
        except ActivityError as err:
            self._note("partner_unavailable", detail=f"{partner_id}: {err.cause}")
            return None

    async def _check(self, period: int) -> SalesCheckResult:
        return await self._activity(
            CHECK_SALES,
            SalesCheckInput(
                deal_id=self._req.deal_id,
                period=period,
                scope=self._plan.scope,
                kpis=self._plan.kpis,
            ),
            SalesCheckResult,
        )

    async def _issue(self, statement: Statement, detail: dict[str, Any]) -> None:
        self._statements.append(statement)
        await self._activity(
            ISSUE_STATEMENT,
            IssueStatementInput(deal_id=self._req.deal_id, statement=statement, detail=detail),
            bool,
        )
        self._note("statement_issued", detail=f"{statement.statement_id}: {statement.amount_due}")

    async def _notify(self, recipient: str, kind: str, subject: str, key: str) -> None:
        await self._activity(
            SEND_NOTIFICATION,
            Notification(
                idempotency_key=f"{workflow.info().workflow_id}:{kind}:{key}:{recipient}",
                recipient=recipient,
                kind=kind,
                subject=subject,
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
            ),
            bool,
        )
