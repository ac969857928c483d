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
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from domain.lifecycle import KpiStatus, PeriodRecord, Statement, YearSummary
from domain.royalty import apply_period, close_year
from domain.schedule import contract_year_of, period_end, period_start, report_due
from workflows.deal.task_waits import TaskWaits

CHECK_STORE_WHEN_UNSIGNALLED = "check-store-when-report-unsignalled"
"""Patch id: histories recorded before it marked such periods missing without a check."""


class Periods(TaskWaits):
    """Run one period at a time; book statements through the contract-year ledger."""

    async def _run_period(self, n: int) -> None:
        schedule, launch = self._req.schedule, self._launched_at
        assert launch is not None
        ends = period_end(launch, schedule.period, n)
        due = report_due(ends, schedule.report_grace)
        self._periods[n] = PeriodRecord(
            period=n,
            contract_year=contract_year_of(n, schedule.periods_per_year),
            starts_at=period_start(launch, schedule.period, n),
            ends_at=ends,
            report_due_at=due,
        )
        self._publish()
        await self._wait_until(lambda: False, ends)
        if not await self._wait_until(lambda: n in self._reports, ends + (due - ends) / 2):
            self._note("report_reminder", detail=f"period {n}")
            await self._notify(
                self._partner_contact or self._owners()[0],
                "report_reminder",
                f"Sales report for period {n} is due {due.isoformat()}",
                f"report-{n}",
            )
            await self._wait_until(lambda: n in self._reports, due)
        signalled = n in self._reports
        # A report stored in Postgres whose signal never arrived (the API died in between)
        # is still found by the check at the due date.
        if (
            signalled or workflow.patched(CHECK_STORE_WHEN_UNSIGNALLED)
        ) and await self._check_period(n):
            if not signalled:
                self._note("report_found_unsignalled", detail=f"period {n}")
            return
        self._mark_missing(n)

    def _mark_missing(self, n: int) -> None:
        self._periods[n] = self._periods[n].model_copy(
            update={"status": "missing", "kpi_status": KpiStatus.MISSING}
        )
        self._kpi_history.append(KpiStatus.MISSING)
        self._kpi_status = KpiStatus.MISSING
        self._note("report_missing", detail=f"period {n}")
        self._publish()

    async def _check_period(self, n: int) -> bool:
        """Check period n's latest report and invoice it; False when no report is stored."""
        result = await self._check(n)
        if not result.report_exists:
            self._note("report_not_found", detail=f"period {n}")
            return False
        record, ledger = self._periods[n], self._ledger
        assert ledger is not None
        self._ledger, charge = apply_period(
            ledger, result.check.net_sales, self._req.terms, record.contract_year
        )
        self._periods[n] = record.model_copy(
            update={
                "status": "checked",
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "royalty_earned": charge.royalty_earned,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        received = self._reports.get(n, 0)
        if received > (result.version or 0) and n not in self._corrections:
            # A newer version arrived while this check ran: re-check it at the next wake-up.
            if workflow.patched("recheck-report-received-during-check"):
                self._corrections.append(n)
        if record.status != "missing":
            self._kpi_history.append(result.kpi_status)
        self._kpi_status = result.kpi_status
        await self._issue(
            Statement(
                statement_id=f"{self._req.deal_id}:y{record.contract_year}:p{n}",
                kind="period",
                contract_year=record.contract_year,
                period=n,
                net_sales=result.check.net_sales,
                royalty_earned=charge.royalty_earned,
                guaranteed_due=charge.guaranteed_due,
                amount_due=charge.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"report_version": result.version, "earned_to_date": str(charge.earned_to_date)},
        )
        if result.check.unlicensed_lines:
            self._note(
                "unlicensed_sales",
                detail=f"period {n}: {result.check.unlicensed_net_sales} outside the scope",
            )
            await self._notify(
                self._owners()[0],
                "unlicensed_sales",
                f"Unlicensed sales in period {n}: {result.check.unlicensed_net_sales}",
                f"unlicensed-{n}-v{result.version}",
            )
        self._note("period_checked", detail=f"period {n}: {result.kpi_status.value}")
        self._publish()
        return True

    async def _apply_corrections(self) -> None:
        while self._corrections:
            n = self._corrections.pop(0)
            record = self._periods.get(n)
            if record is None or self._ledger is None:
                continue
            if record.contract_year != self._ledger.contract_year:
                self._note("correction_ignored", detail=f"period {n}: contract year closed")
                continue
            if record.status == "missing":
                await self._check_period(n)
                continue
            await self._adjust(record)

    async def _adjust(self, record: PeriodRecord) -> None:
        result = await self._check(record.period)
        if not result.report_exists or result.version == record.report_version:
            return
        delta = result.check.net_sales - record.net_sales
        ledger = self._ledger
        assert ledger is not None
        self._periods[record.period] = record.model_copy(
            update={
                "net_sales": result.check.net_sales,
                "unlicensed_net_sales": result.check.unlicensed_net_sales,
                "kpi_status": result.kpi_status,
                "report_version": result.version,
            }
        )
        if delta == 0:
            self._note("correction_no_change", detail=f"period {record.period} v{result.version}")
            return
        self._ledger, charge = apply_period(ledger, delta, self._req.terms, record.contract_year)
        self._periods[record.period] = self._periods[record.period].model_copy(
            update={"royalty_earned": record.royalty_earned + charge.royalty_earned}
        )
        await self._issue(
            Statement(
                statement_id=(
                    f"{self._req.deal_id}:y{record.contract_year}:p{record.period}"
                    f":v{result.version}"
                ),
                kind="period",
                contract_year=record.contract_year,
                period=record.period,
                net_sales=delta,
                royalty_earned=charge.royalty_earned,
                guaranteed_due=charge.guaranteed_due,
                amount_due=charge.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"adjustment": True, "report_version": result.version},
        )
        self._note("correction_applied", detail=f"period {record.period}: {delta:+}")

    async def _close_year(self) -> None:
        ledger = self._ledger
        assert ledger is not None
        true_up = close_year(ledger, self._req.terms)
        year = ledger.contract_year
        await self._issue(
            Statement(
                statement_id=f"{self._req.deal_id}:y{year}:true-up",
                kind="true_up",
                contract_year=year,
                net_sales=true_up.ytd_net_sales,
                royalty_earned=true_up.earned,
                guaranteed_due=true_up.minimum_guarantee,
                amount_due=true_up.amount_due,
                currency=self._req.terms.currency,
                issued_at=workflow.now(),
            ),
            {"invoiced": str(true_up.invoiced), "advance_credit": str(true_up.advance_credit)},
        )
        self._years.append(
            YearSummary(
                contract_year=year,
                net_sales=true_up.ytd_net_sales,
                royalty_earned=true_up.earned,
                invoiced=true_up.invoiced,
                true_up=true_up.amount_due,
            )
        )
        self._note("year_closed", detail=f"year {year}: true-up {true_up.amount_due}")

    async def _wait_until(self, cond: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `cond()` until `deadline`, applying report corrections meanwhile."""
        while True:
            self._raise_if_terminating()
            await self._apply_corrections()
            if cond():
                return True
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: cond() or self._termination is not None or bool(self._corrections),
                    timeout=remaining,
                )
            except TimeoutError:
                self._raise_if_terminating()
                return cond()
