"""How a deal ends: termination with its final statement, completion or cancellation.

Rule: the final statement on terminate is the current contract year's minimum guarantee
pro rata to the periods that have ended in that year, minus what the year already covers
(max(earned, advance credit, invoiced)); never negative. Only once the deal has launched.
A year already closed by its true-up has settled its guarantee: its invoices plus the
true-up count as covered, so the guarantee is billed exactly once (patch mg-settled-once).
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import workflow

from domain.deal_state import Stage, Statement
from domain.royalty import Amounts, open_year, to_cents
from workflows.deal.run import DealRun
from workflows.patches import MG_SETTLED_ONCE


class Endings:
    """Final statement, notifications and audit when the deal reaches a final stage."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def terminate(self) -> None:
        run, state = self._run, self._run.state
        request = state.termination
        assert request is not None
        if state.launched_at is not None:
            await run.calls.issue(self._final_statement(), {"reason": request.reason})
        if state.partner_contact is not None:
            await run.calls.notify(
                state.partner_contact,
                "deal_terminated",
                f"Deal {run.req.title} was terminated: {request.reason}",
                "terminated",
            )
        await self.finish(Stage.TERMINATED, request.reason, by=request.requested_by)

    def _final_statement(self) -> Statement:
        run, state = self._run, self._run.state
        schedule, terms = run.req.schedule, run.req.terms
        year = run.contract_year()
        ledger = state.ledger
        if ledger is None or ledger.contract_year != year:
            ledger = open_year(year, terms)
        ended = [
            p for p in state.periods.values() if p.contract_year == year and p.status != "open"
        ]
        decimals = run.decimals
        pro_rata = to_cents(
            terms.minimum_guarantee_per_year * Decimal(len(ended)) / schedule.periods_per_year,
            decimals,
        )
        covered = max(to_cents(ledger.earned, decimals), ledger.advance_credit, ledger.invoiced)
        closed = next((y for y in state.years if y.contract_year == year), None)
        if closed is not None and workflow.patched(MG_SETTLED_ONCE):
            covered = max(covered, closed.invoiced + closed.true_up)
        amounts = Amounts(
            net_sales=ledger.ytd_net_sales,
            royalty_earned=to_cents(ledger.earned, decimals),
            guaranteed_due=pro_rata,
            amount_due=max(Decimal(0), pro_rata - covered),
        )
        return run.statement("final", "final", year, amounts)

    async def finish(self, stage: Stage, reason: str, *, by: str | None = None) -> None:
        run = self._run
        for task in run.board.open_tasks():
            run.board.close(task.task_id, "cancelled", detail=stage.value)
        run.state.reason = reason
        await run.enter(stage, reason, by=by)
        await run.calls.notify(run.owners()[0], f"deal_{stage.value}", reason, stage.value)
        await run.calls.audit(
            stage.value, by or "licenseflow", f"deal.{stage.value}", {"reason": reason}
        )
