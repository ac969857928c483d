"""The deal's activity calls: read model, partner, sales check, statements, notifications.

Transient failures are retried by Temporal without cap; a call that fails for good parks
the deal (`workflows.deal.incidents`) and runs again when ops decide `retry`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain.activity_io import AuditEntry, Notification, PartnerUsersQuery
from domain.deal_activity_io import (
    DealReadModelInput,
    EnvelopeRef,
    IssueStatementInput,
    LoadPartnerInput,
    RequestSignatureInput,
    ReviewInput,
    ReviewPack,
    SalesCheckInput,
    SalesCheckResult,
)
from domain.deal_state import Statement
from domain.partner import PartnerProfile
from workflows.activity_options import (
    EXTERNAL,
    LOOKUP,
    STORE,
    ActivityOptions,
    CommonActivities,
    DealActivities,
    DirectoryActivities,
    SigningActivities,
    call,
    call_or_park,
)

if TYPE_CHECKING:
    from workflows.deal.run import DealRun

ArgT = TypeVar("ArgT")
ResultT = TypeVar("ResultT")


class DealCalls:
    """Every activity the deal workflow runs, with its idempotency key made here."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def _call(
        self,
        method: Callable[[Any, ArgT], Awaitable[ResultT]],
        arg: ArgT,
        options: ActivityOptions,
        *,
        local: bool = False,
    ) -> ResultT:
        """The activity's result (`local`: tried as a local activity first); a final failure
        parks the deal until ops retry."""
        return await call_or_park(method, arg, options, self._run.incidents.park, local=local)

    async def sync(self) -> None:
        """Move the read model; the first call also creates it with its `deal.create` row."""
        run, state = self._run, self._run.state
        created = state.read_model_created
        await self._call(
            DealActivities.sync_deal_read_model,
            DealReadModelInput(
                deal_id=run.req.deal_id,
                workflow_id=workflow.info().workflow_id,
                stage=state.stage,
                partner_id=state.partner_id,
                kpi_status=state.kpi_status,
                request=None if created else run.req,
                created_by=None if created else run.created_by,
                request_id=None if created else run.request_id,
            ),
            STORE,
        )
        state.read_model_created = True

    async def load_partner(self, partner_id: str) -> PartnerProfile | None:
        """The stored profile; None (noted) when it cannot be loaded."""
        try:
            return await call(
                DealActivities.load_partner, LoadPartnerInput(partner_id=partner_id), LOOKUP
            )
        except ActivityError as err:
            self._run.note("partner_unavailable", detail=f"{partner_id}: {err.cause}")
            return None

    async def partner_users(self, partner_id: str) -> list[str]:
        """Every user bound to the partner in the users directory (separation of duties)."""
        found = await self._call(
            DirectoryActivities.partner_users, PartnerUsersQuery(partner_id=partner_id), LOOKUP
        )
        return list(found.users)

    async def check(self, period: int) -> SalesCheckResult:
        plan = self._run.state.plan
        return await self._call(
            DealActivities.check_sales,
            SalesCheckInput(
                deal_id=self._run.req.deal_id,
                period=period,
                scope=plan.scope,
                kpis=plan.kpis,
                rate_card=self._run.req.terms.rate_card,
            ),
            LOOKUP,
            local=self._run.lean,
        )

    async def issue(self, statement: Statement, detail: dict[str, Any]) -> None:
        """Store a statement (once, by its id); until stored it is listed as unstored."""
        state = self._run.state
        state.statements.append(statement)
        state.unstored.append(statement.statement_id)
        await self._store(statement, detail)

    async def issue_unstored(self) -> None:
        """Store again every statement whose issue was interrupted (the insert is
        idempotent by statement id)."""
        state = self._run.state
        for statement_id in list(state.unstored):
            made = next(s for s in state.statements if s.statement_id == statement_id)
            await self._store(made, {"reissued": True})

    async def _store(self, statement: Statement, detail: dict[str, Any]) -> None:
        await self._call(
            DealActivities.issue_statement,
            IssueStatementInput(deal_id=self._run.req.deal_id, statement=statement, detail=detail),
            STORE,
            local=self._run.lean,
        )
        unstored = self._run.state.unstored
        if statement.statement_id in unstored:
            unstored.remove(statement.statement_id)
        self._run.note(
            "statement_issued", detail=f"{statement.statement_id}: {statement.amount_due}"
        )

    async def compile_review(self, inp: ReviewInput) -> ReviewPack:
        return await self._call(DealActivities.compile_review, inp, LOOKUP)

    async def request_signature(self, inp: RequestSignatureInput) -> EnvelopeRef:
        return await self._call(SigningActivities.request_signature, inp, EXTERNAL)

    async def notify(self, recipient: str, kind: str, subject: str, key: str) -> None:
        workflow_id = workflow.info().workflow_id
        await self._call(
            CommonActivities.send_notification,
            Notification(
                idempotency_key=f"{workflow_id}:{kind}:{key}:{recipient}",
                recipient=recipient,
                kind=kind,
                subject=subject,
                deal_id=self._run.req.deal_id,
                workflow_id=workflow_id,
            ),
            STORE,
        )

    async def audit(self, key: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        workflow_id = workflow.info().workflow_id
        await self._call(
            CommonActivities.record_audit,
            AuditEntry(
                idempotency_key=f"{workflow_id}:{key}",
                actor=actor,
                action=action,
                deal_id=self._run.req.deal_id,
                workflow_id=workflow_id,
                detail=detail,
            ),
            STORE,
        )
