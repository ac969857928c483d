"""Monitoring: reporting periods, sales checks, late reports and corrections.

Rules:

* Reports may arrive early (before the period ends); a period is checked at its end or as
  soon as the report arrives during the grace. Reminder at half the grace, then `missing`.
* A late report for a `missing` period, or a higher version for a `checked` period, is
  re-checked at the next wake-up of the workflow and billed through the money books
  (`workflows.deal.books`: any contract year until final accounting ends; runs before patch
  `year-books`: `workflows.deal.ledger_v1`, current contract year only).
* At the due date the stored reports are checked even when no signal arrived, so a report
  persisted by the API whose signal was lost is invoiced, not marked missing.
* A period's outcome is decided from everything received: a report signalled while the
  due-date check ran (even in the same workflow task as its "not found" result) is checked
  again at once; if its row still cannot be read, the period is marked missing and the
  report re-checked at the next wake-up like a late report.
* While waiting, compliance tasks are reminded and expired (`workflows.deal.compliance`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from domain.deal_state import KpiStatus, PeriodRecord
from domain.schedule import contract_year_of, period_end, period_start, report_due
from workflows.deal.books import YearBooks
from workflows.deal.ledger_v1 import LegacyLedger
from workflows.deal.run import DealRun
from workflows.patches import (
    CHECK_STORE_WHEN_UNSIGNALLED,
    PERIOD_FROM_ALL_RECEIVED,
    RECHECK_REPORT_RECEIVED_DURING_CHECK,
)


class Periods:
    """Run one period at a time; book its report through the money books."""

    def __init__(self, run: DealRun) -> None:
        self._run = run
        self.compliance = run.compliance
        self.money: YearBooks | LegacyLedger = (
            YearBooks(run, self) if run.year_books else LegacyLedger(run, self)
        )
        self.winding_down = False
        """Final accounting: waits go on although a termination was requested."""

    async def run_period(self, n: int) -> None:
        run, state = self._run, self._run.state
        schedule, launch = run.req.schedule, state.launched_at
        assert launch is not None
        ends = period_end(launch, schedule.period, n)
        state.periods[n] = PeriodRecord(
            period=n,
            contract_year=contract_year_of(n, schedule.periods_per_year),
            starts_at=period_start(launch, schedule.period, n),
            ends_at=ends,
            report_due_at=report_due(ends, schedule.report_grace),
        )
        run.publisher.publish()
        await self.wait_until(lambda: False, ends)
        await self.await_report(n)

    async def await_report(self, n: int) -> None:
        """After period n ended: reminder at half the grace, check, or `missing` when due."""
        run, state = self._run, self._run.state
        record = state.periods[n]
        ends, due = record.ends_at, record.report_due_at
        if not await self.wait_until(lambda: state.has_report(n), ends + (due - ends) / 2):
            run.note("report_reminder", detail=f"period {n}")
            await run.calls.notify(
                state.partner_contact or run.owners()[0],
                "report_reminder",
                f"Sales report for period {n} is due {due.isoformat()}",
                f"report-{n}",
            )
            await self.wait_until(lambda: state.has_report(n), due)
        signalled = state.has_report(n)
        # A report stored in Postgres whose signal never arrived (the API died in between)
        # is still found by the check at the due date.
        found = (
            signalled or workflow.patched(CHECK_STORE_WHEN_UNSIGNALLED)
        ) and await self.check_period(n)
        if not found and state.has_report(n) and workflow.patched(PERIOD_FROM_ALL_RECEIVED):
            # The report was stored and signalled while the check ran (its signal can land
            # in the same workflow task as the "not found" result): check the stored row.
            found = await self.check_period(n)
        if found:
            if not signalled and not state.has_report(n):
                run.note("report_found_unsignalled", detail=f"period {n}")
            return
        self._mark_missing(n)
        if state.has_report(n) and workflow.patched(PERIOD_FROM_ALL_RECEIVED):
            # Received but not readable yet: re-checked at the next wake-up, never dropped.
            state.corrections.append(n)

    def _mark_missing(self, n: int) -> None:
        run, state = self._run, self._run.state
        state.periods[n] = state.periods[n].model_copy(
            update={"status": "missing", "kpi_status": KpiStatus.MISSING}
        )
        state.kpi_history.append(KpiStatus.MISSING)
        state.kpi_status = KpiStatus.MISSING
        run.note("report_missing", detail=f"period {n}")
        run.publisher.publish()

    async def check_period(self, n: int) -> bool:
        """Check period n's latest report and bill it; False when no report is stored.
        Its check, statement and the next period are one read-model write (lean runs)."""
        if not self._run.lean:
            return await self._check_period(n)
        with self._run.read_model.writer.held():
            return await self._check_period(n)

    async def _check_period(self, n: int) -> bool:
        run, state = self._run, self._run.state
        result = await run.calls.check(n)
        if not result.report_exists:
            run.note("report_not_found", detail=f"period {n}")
            return False
        record = state.periods[n]
        statement, detail, earned, unlicensed = self.money.book_first(record, result)
        state.periods[n] = record.model_copy(
            update={
                "status": "checked",
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "royalty_earned": earned,
                "unlicensed_royalty": unlicensed,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        received = state.latest_report(n)
        if received > (result.version or 0) and n not in state.corrections:
            # A newer version arrived while this check ran: re-check it at the next wake-up.
            if workflow.patched(RECHECK_REPORT_RECEIVED_DURING_CHECK):
                state.corrections.append(n)
        if record.status != "missing":
            state.kpi_history.append(result.kpi_status)
        state.kpi_status = result.kpi_status
        await run.calls.issue(statement, detail)
        if isinstance(self.money, YearBooks):  # a recoupable advance carried into later years
            await self.money.carry_forward(record.contract_year, f"y{record.contract_year}:p{n}")
        await self.compliance.unlicensed(n, result)
        run.note("period_checked", detail=f"period {n}: {result.kpi_status.value}")
        run.publisher.publish()
        return True

    async def apply_corrections(self) -> None:
        await self.money.apply_corrections()

    async def wait_until(self, cond: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `cond()` until `deadline`, applying report corrections meanwhile (and,
        with year books, reminding and expiring compliance tasks)."""
        run, state = self._run, self._run.state

        def interrupted() -> bool:
            return state.termination is not None and not self.winding_down

        while True:
            if not self.winding_down:
                run.raise_if_terminating()
            await self.apply_corrections()
            if run.year_books:
                await self.compliance.sweep()
            if cond():
                return True
            now = workflow.now()
            if deadline - now <= timedelta(0):
                return False
            wake = deadline
            moment = self.compliance.next_deadline() if run.year_books else None
            if moment is not None and now < moment < deadline:
                wake = moment
            try:
                await workflow.wait_condition(
                    lambda: cond() or interrupted() or bool(state.corrections),
                    timeout=wake - now,
                )
            except TimeoutError:
                if wake < deadline:
                    continue
                if not self.winding_down:
                    run.raise_if_terminating()
                return cond()
