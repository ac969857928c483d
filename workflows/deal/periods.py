"""Monitoring: reporting periods, sales checks, corrections and contract-year closing.

Rules:

* Reports may arrive early (before the period ends); a period is checked at its end or as
  soon as the report arrives during the grace. Reminder at half the grace, then `missing`.
* A late report for a `missing` period, or a higher version for a `checked` period of the
  current contract year, is re-checked at the next wake-up of the workflow; a changed net
  sales amount is booked as an adjustment statement `<deal>:y<year>:p<period>:v<version>`
  through the year's royalty ledger. Reports for closed contract years are only noted.
* At the due date the stored reports are checked even when no signal arrived, so a report
  persisted by the API whose signal was lost is invoiced, not marked missing.
* A period's outcome is decided from everything received: a report signalled while the
  due-date check ran (even in the same workflow task as its "not found" result) is checked
  again at once; if its row still cannot be read, the period is marked missing and the
  report re-checked at the next wake-up like a late report.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from domain.deal_state import KpiStatus, PeriodRecord, YearSummary
from domain.royalty import apply_period, close_year
from domain.schedule import contract_year_of, period_end, period_start, report_due
from workflows.deal.run import DealRun
from workflows.patches import (
    CHECK_STORE_WHEN_UNSIGNALLED,
    PERIOD_FROM_ALL_RECEIVED,
    RECHECK_REPORT_RECEIVED_DURING_CHECK,
)


class Periods:
    """Run one period at a time; book statements through the contract-year ledger."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def run_period(self, n: int) -> None:
        run, state = self._run, self._run.state
        schedule, launch = run.req.schedule, state.launched_at
        assert launch is not None
        ends = period_end(launch, schedule.period, n)
        due = report_due(ends, schedule.report_grace)
        state.periods[n] = PeriodRecord(
            period=n,
            contract_year=contract_year_of(n, schedule.periods_per_year),
            starts_at=period_start(launch, schedule.period, n),
            ends_at=ends,
            report_due_at=due,
        )
        run.publisher.publish()
        await self.wait_until(lambda: False, ends)
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
        ) and await self._check_period(n)
        if not found and state.has_report(n) and workflow.patched(PERIOD_FROM_ALL_RECEIVED):
            # The report was stored and signalled while the check ran (its signal can land
            # in the same workflow task as the "not found" result): check the stored row.
            found = await self._check_period(n)
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

    async def _check_period(self, n: int) -> bool:
        """Check period n's latest report and invoice it; False when no report is stored."""
        run, state = self._run, self._run.state
        result = await run.calls.check(n)
        if not result.report_exists:
            run.note("report_not_found", detail=f"period {n}")
            return False
        record, ledger = state.periods[n], state.ledger
        assert ledger is not None
        state.ledger, charge = apply_period(
            ledger, result.check.net_sales, run.req.terms, record.contract_year, run.decimals
        )
        state.periods[n] = record.model_copy(
            update={
                "status": "checked",
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "royalty_earned": charge.royalty_earned,
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
        await run.calls.issue(
            run.statement(
                f"y{record.contract_year}:p{n}", "period", record.contract_year, charge, period=n
            ),
            {"report_version": result.version, "earned_to_date": str(charge.earned_to_date)},
        )
        if result.check.unlicensed_lines:
            run.note(
                "unlicensed_sales",
                detail=f"period {n}: {result.check.unlicensed_net_sales} outside the scope",
            )
            await run.calls.notify(
                run.owners()[0],
                "unlicensed_sales",
                f"Unlicensed sales in period {n}: {result.check.unlicensed_net_sales}",
                f"unlicensed-{n}-v{result.version}",
            )
        run.note("period_checked", detail=f"period {n}: {result.kpi_status.value}")
        run.publisher.publish()
        return True

    async def apply_corrections(self) -> None:
        run, state = self._run, self._run.state
        while state.corrections:
            n = state.corrections.pop(0)
            record = state.periods.get(n)
            if record is None or state.ledger is None:
                continue
            if record.contract_year != state.ledger.contract_year:
                run.note("correction_ignored", detail=f"period {n}: contract year closed")
                continue
            if record.status == "missing":
                await self._check_period(n)
                continue
            await self._adjust(record)

    async def _adjust(self, record: PeriodRecord) -> None:
        run, state = self._run, self._run.state
        result = await run.calls.check(record.period)
        if not result.report_exists or result.version == record.report_version:
            return
        delta = result.check.net_sales - record.net_sales
        ledger = state.ledger
        assert ledger is not None
        state.periods[record.period] = record.model_copy(
            update={
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        if delta == 0:
            run.note("correction_no_change", detail=f"period {record.period} v{result.version}")
            return
        state.ledger, charge = apply_period(
            ledger, delta, run.req.terms, record.contract_year, run.decimals
        )
        state.periods[record.period] = state.periods[record.period].model_copy(
            update={"royalty_earned": record.royalty_earned + charge.royalty_earned}
        )
        year, period = record.contract_year, record.period
        await run.calls.issue(
            run.statement(
                f"y{year}:p{period}:v{result.version}", "period", year, charge, period=period
            ),
            {"adjustment": True, "report_version": result.version},
        )
        run.note("correction_applied", detail=f"period {record.period}: {delta:+}")

    async def close_year(self) -> None:
        run, state = self._run, self._run.state
        ledger = state.ledger
        assert ledger is not None
        true_up = close_year(ledger, run.req.terms, run.decimals)
        year = ledger.contract_year
        await run.calls.issue(
            run.statement(f"y{year}:true-up", "true_up", year, true_up.amounts()),
            {"invoiced": str(true_up.invoiced), "advance_credit": str(true_up.advance_credit)},
        )
        state.years.append(
            YearSummary(
                contract_year=year,
                net_sales=true_up.ytd_net_sales,
                royalty_earned=true_up.earned,
                invoiced=true_up.invoiced,
                true_up=true_up.amount_due,
            )
        )
        run.note("year_closed", detail=f"year {year}: true-up {true_up.amount_due}")

    async def wait_until(self, cond: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `cond()` until `deadline`, applying report corrections meanwhile."""
        run, state = self._run, self._run.state
        while True:
            run.raise_if_terminating()
            await self.apply_corrections()
            if cond():
                return True
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: cond() or state.termination is not None or bool(state.corrections),
                    timeout=remaining,
                )
            except TimeoutError:
                run.raise_if_terminating()
                return cond()
