"""Money of runs started before patch `year-books`: the running contract-year ledger.

Frozen behaviour, kept so those runs (and their recorded histories) replay the same; their
next run converts to year books (`workflows.deal.books`). Rules as they were: a period's
invoice is max(0, max(advance credit, E) - invoiced); nothing is credited back; a correction
for a closed contract year is only noted; the year-end true-up settles the guarantee.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.deal_activity_io import SalesCheckResult
from domain.deal_state import PeriodRecord, Statement, YearSummary
from domain.royalty import apply_period, close_year, open_year

if TYPE_CHECKING:
    from workflows.deal.periods import Periods
    from workflows.deal.run import DealRun


class LegacyLedger:
    """The running ledger of the open contract year (`state.ledger`)."""

    def __init__(self, run: DealRun, periods: Periods) -> None:
        self._run = run
        self._periods = periods

    def book_first(
        self, record: PeriodRecord, result: SalesCheckResult
    ) -> tuple[Statement, dict[str, Any], Decimal, Decimal]:
        """A period's first check: its statement, detail, royalty earned and unlicensed."""
        run, state = self._run, self._run.state
        ledger = state.ledger
        assert ledger is not None
        state.ledger, charge = apply_period(
            ledger, result.check.net_sales, run.req.terms, record.contract_year, run.decimals
        )
        statement = run.statement(
            f"y{record.contract_year}:p{record.period}",
            "period",
            record.contract_year,
            charge,
            period=record.period,
        )
        detail = {"report_version": result.version, "earned_to_date": str(charge.earned_to_date)}
        return statement, detail, charge.royalty_earned, Decimal(0)

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
                await self._periods.check_period(n)
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

    def open_year(self, year: int) -> None:
        """A fresh running ledger when a contract year starts."""
        state = self._run.state
        if state.ledger is None or state.ledger.contract_year != year:
            state.ledger = open_year(year, self._run.req.terms)

    async def close_year(self, year: int) -> None:
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
