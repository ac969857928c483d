"""How a deal ends: termination with its final statement, completion or cancellation.

Rule: the final statement on terminate is the current contract year's minimum guarantee
pro rata to the periods that have ended in that year, minus what the year already covers
(max(earned, advance credit, invoiced)); never negative. Only once the deal has launched.
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

from domain.activity_io import RECORD_AUDIT, AuditEntry
from domain.lifecycle import Stage, Statement
from domain.royalty import open_year, to_cents
from workflows.deal.task_waits import TaskWaits


class Endings(TaskWaits):
    """Final statement, notifications and audit when the deal reaches a final stage."""

    async def _terminate(self) -> None:
        request = self._termination
        assert request is not None
        if self._launched_at is not None:
            await self._issue(self._final_statement(), {"reason": request.reason})
        if self._partner_contact is not None:
            await self._notify(
                self._partner_contact,
                "deal_terminated",
                f"Deal {self._req.title} was terminated: {request.reason}",
                "terminated",
            )
        await self._finish(Stage.TERMINATED, request.reason, by=request.requested_by)

    def _final_statement(self) -> Statement:
        schedule, terms = self._req.schedule, self._req.terms
        year = self._contract_year()
        ledger = self._ledger
        if ledger is None or ledger.contract_year != year:
            ledger = open_year(year, terms)
        ended = [
            p for p in self._periods.values() if p.contract_year == year and p.status != "open"
        ]
        pro_rata = to_cents(
            terms.minimum_guarantee_per_year * Decimal(len(ended)) / schedule.periods_per_year
        )
        covered = max(to_cents(ledger.earned), ledger.advance_credit, ledger.invoiced)
        return Statement(
            statement_id=f"{self._req.deal_id}:final",
            kind="final",
            contract_year=year,
            net_sales=ledger.ytd_net_sales,
            royalty_earned=to_cents(ledger.earned),
            guaranteed_due=pro_rata,
            amount_due=max(Decimal(0), pro_rata - covered),
            currency=terms.currency,
            issued_at=workflow.now(),
        )

    async def _finish(self, stage: Stage, reason: str, *, by: str | None = None) -> None:
        for task in self._board.open_tasks():
            self._board.close(task.task_id, "cancelled", detail=stage.value)
        self._reason = reason
        await self._enter(stage, reason, by=by)
        await self._notify(self._owners()[0], f"deal_{stage.value}", reason, stage.value)
        await self._activity(
            RECORD_AUDIT,
            AuditEntry(
                idempotency_key=f"{workflow.info().workflow_id}:{stage.value}",
                actor=by or "licenseflow",
                action=f"deal.{stage.value}",
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
                detail={"reason": reason},
            ),
            bool,
        )
