"""How a deal ends: final accounting, then terminated or completed; or cancellation.

Rules (patch `year-books`): termination and expiry move a launched deal to `winding_down`.
A termination cuts the running period short at that moment (a period not started yet is
dropped); a contractual sell-off (`terms.sell_off`) adds one more period after the end.
Every period not yet checked is still reported, reminded and marked missing at its due
date, and late reports and corrections of any year are still billed. After the last due
date the final statement settles the final contract year (MG pro rata to the periods
ended in full when terminated; a year already settled by its true-up keeps its MG, so the
guarantee is billed exactly once); then the deal is terminated or completed.

Rights ledger (patch `rights-ledger`, deals naming a property): winding down cuts the
grants' end to the (cut) term end plus sell-off, so the cells are free for others after it;
when the deal ends (cancelled, terminated, or completed after the sell-off and the final
statement) every grant is released.

Runs before `year-books`: the final statement on terminate at once (the current year's MG
pro rata to the periods ended, minus what the year already covers; patch mg-settled-once
counts a closed year's true-up), and completion at the term end.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from temporalio import workflow

from domain.deal_state import PeriodRecord, Stage, Statement, WindDown
from domain.durations import parse_duration
from domain.royalty import Amounts, open_year, to_cents
from domain.schedule import contract_year_of, period_end, period_start, report_due
from workflows.deal.books import YearBooks
from workflows.deal.periods import Periods
from workflows.deal.run import DealRun
from workflows.patches import MG_SETTLED_ONCE


class Endings:
    """Final accounting, notifications and audit when the deal reaches a final stage."""

    def __init__(self, run: DealRun, periods: Periods) -> None:
        self._run = run
        self._periods = periods

    async def terminate(self) -> None:
        run, state = self._run, self._run.state
        request = state.termination
        assert request is not None
        books = run.year_books and state.launched_at is not None
        if state.launched_at is not None and not books:
            await run.calls.issue(self._final_statement(), {"reason": request.reason})
        if state.partner_contact is not None:
            await run.calls.notify(
                state.partner_contact,
                "deal_terminated",
                f"Deal {run.req.title} was terminated: {request.reason}",
                "terminated",
            )
        if books:
            await self._wind_down("terminated", request.reason, request.requested_by)
        await self.finish(Stage.TERMINATED, request.reason, by=request.requested_by)

    async def complete(self) -> None:
        """The term ended without renewal: final accounting (year books), then completed."""
        if self._run.year_books and self._run.state.launched_at is not None:
            await self._wind_down("expired", "term ended", None)
        await self.finish(Stage.COMPLETED, "term ended")

    async def _wind_down(
        self, kind: Literal["terminated", "expired"], reason: str, by: str | None
    ) -> None:
        run, state, periods = self._run, self._run.state, self._periods
        periods.winding_down = True
        if state.wind_down is None:
            # decisions applied but not taken (a review decided as the termination came):
            # moot now; their updates answer
            for task_id in list(state.decisions):
                run.note("decision_moot", detail=f"{task_id}: {kind}")
            state.decisions.clear()
            now = workflow.now()
            term_end = self._term_end(now)
            end = min(now, term_end) if kind == "terminated" else term_end
            if kind == "terminated":
                self._cut_short(now)
            self._add_sell_off(end)
            state.wind_down = WindDown(
                kind=kind, at=end, final_year=run.contract_year(), reason=reason, by=by
            )
            state.term_periods = max(state.periods, default=state.term_periods)
            state.next_period = state.term_periods + 1
            last_due = max((p.report_due_at for p in state.periods.values()), default=now)
            await run.enter(
                Stage.WINDING_DOWN,
                f"{kind}: reports accepted until {last_due.isoformat()}",
                by=by,
            )
            await run.rights.settle("wind-down")  # the grants end with the term (+ sell-off)
        await run.calls.issue_unstored()
        for record in sorted(state.periods.values(), key=lambda p: p.period):
            if record.status != "open":
                continue
            await periods.wait_until(lambda: False, record.ends_at)
            await periods.await_report(record.period)
        await periods.apply_corrections()
        await run.calls.issue_unstored()
        assert isinstance(periods.money, YearBooks)
        assert state.wind_down is not None
        await periods.money.final_statement(state.wind_down)
        await self.drain()

    async def drain(self) -> None:
        """Bill reports that arrived while the last statements were issued (year books)."""
        if self._run.year_books and self._run.state.launched_at is not None:
            while self._run.state.corrections:
                await self._periods.apply_corrections()

    def _term_end(self, now: datetime) -> datetime:
        """When the licensed term ends (its last period's end); `now` when not known."""
        state, schedule = self._run.state, self._run.req.schedule
        if state.launched_at is None:
            return now
        return period_end(state.launched_at, schedule.period, state.term_periods)

    def _cut_short(self, now: datetime) -> None:
        """The running period ends now (listed even when the previous one is still in its
        grace); a period that has not started is dropped."""
        run, state = self._run, self._run.state
        schedule, launch = run.req.schedule, state.launched_at
        grace = schedule.report_grace
        running = max(state.periods, default=0) + 1
        if launch is not None and running <= state.term_periods:
            starts = period_start(launch, schedule.period, running)
            if starts < now:
                state.periods[running] = PeriodRecord(
                    period=running,
                    contract_year=contract_year_of(running, schedule.periods_per_year),
                    starts_at=starts,
                    ends_at=period_end(launch, schedule.period, running),
                    report_due_at=report_due(now, grace),
                )
                if isinstance(self._periods.money, YearBooks):
                    self._periods.money.open_year(state.periods[running].contract_year)
        for n, record in list(state.periods.items()):
            if record.status != "open" or record.ends_at <= now:
                continue
            if record.starts_at >= now:
                del state.periods[n]
                continue
            state.periods[n] = record.model_copy(
                update={"ends_at": now, "report_due_at": report_due(now, grace), "kind": "partial"}
            )
            self._run.note("period_cut_short", detail=f"period {n} ends {now.isoformat()}")

    def _add_sell_off(self, end: datetime) -> None:
        run, state = self._run, self._run.state
        sell_off = run.req.terms.sell_off
        if sell_off is None:
            return
        n = max(state.periods, default=state.next_period - 1) + 1
        ends = parse_duration(sell_off).add_to(end)
        state.periods[n] = PeriodRecord(
            period=n,
            contract_year=run.contract_year(),
            starts_at=end,
            ends_at=ends,
            report_due_at=report_due(ends, run.req.schedule.report_grace),
            kind="sell_off",
        )
        run.note("sell_off", detail=f"period {n} until {ends.isoformat()}")

    def _final_statement(self) -> Statement:
        """Runs before `year-books`: the final statement at termination."""
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
        await run.rights.release(stage.value)
        run.state.reason = reason
        await run.enter(stage, reason, by=by)
        await run.calls.notify(run.owners()[0], f"deal_{stage.value}", reason, stage.value)
        await run.calls.audit(
            stage.value, by or "licenseflow", f"deal.{stage.value}", {"reason": reason}
        )
        if stage is not Stage.CANCELLED:
            await self.drain()
