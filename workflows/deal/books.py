"""Money by contract-year books (patch `year-books`): invoices, adjustments, credit notes,
true-ups and the final statement. The rules are in `domain.royalty` (year books).

* A period's first check books its report in its year: statement `y<year>:p<n>` (kind
  `period`, or `adjustment` when the year is already settled).
* A late report or a correction (queued by the `sales_report_received` signal) re-books
  the period in whichever year it belongs to, open or settled, as long as final accounting
  has not ended: statement `y<year>:p<n>:v<version>` (`adjustment`, or `credit_note` when
  it lowers what is owed). A report whose figures did not change issues nothing.
* The year end settles the guarantee (`y<year>:true-up`, at the year's MG:
  `Terms.minimum_guarantee_for`); final accounting settles the final year (`final`): MG
  pro rata to the periods ended in full when terminated.
* With an advance recoupable across the term, a money event of a year changes the advance
  carried into the later years: each later year whose owed changed gets
  `y<later>:carry:<the event's key>` (`adjustment`, or `credit_note`). Deals without the
  option never issue one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.deal_activity_io import SalesCheckResult
from domain.deal_state import PeriodRecord, Statement, StatementKind, WindDown, YearSummary
from domain.royalty import (
    BookedPeriod,
    YearBook,
    advance_carried,
    book_from_legacy,
    book_report,
    carry_forward,
    open_book,
    pro_rata_guarantee,
    settle_year,
    year_owed,
)
from domain.schedule import contract_year_of

if TYPE_CHECKING:
    from workflows.deal.periods import Periods
    from workflows.deal.run import DealRun


class YearBooks:
    """Every contract year's book (`state.books`), carried whole across continue-as-new."""

    def __init__(self, run: DealRun, periods: Periods) -> None:
        self._run = run
        self._periods = periods
        self._convert_legacy()

    def open_year(self, year: int) -> None:
        """The book of a contract year that starts (kept if it exists)."""
        books = self._run.state.books
        if year not in books:
            books[year] = open_book(year, self._run.req.terms)

    def book_first(
        self, record: PeriodRecord, result: SalesCheckResult
    ) -> tuple[Statement, dict[str, Any], Decimal, Decimal]:
        """A period's first check: its statement, detail, royalty and unlicensed royalty."""
        run, state = self._run, self._run.state
        year, n = record.contract_year, record.period
        self.open_year(year)
        book, charge = book_report(
            state.books[year],
            n,
            self._booked(result),
            run.req.terms,
            run.decimals,
            self._carried(year),
        )
        state.books[year] = book
        kind: StatementKind = "adjustment" if book.settled else "period"
        statement = run.statement(f"y{year}:p{n}", kind, year, charge, period=n)
        self._summarise(book)
        return (
            statement,
            self._detail(book, result),
            charge.royalty_earned,
            (charge.unlicensed_royalty),
        )

    async def apply_corrections(self) -> None:
        """Re-book every queued late report or correction, in any contract year."""
        state = self._run.state
        while state.corrections:
            n = state.corrections.pop(0)
            try:
                await self._apply_one(n)
            except BaseException:
                # interrupted (a termination while its activity was parked): keep it queued
                if n not in state.corrections:
                    state.corrections.insert(0, n)
                raise

    async def _apply_one(self, n: int) -> None:
        run, state = self._run, self._run.state
        record = state.periods.get(n)
        if record is not None and record.status == "open":
            return  # its own period flow checks it
        if record is not None and record.status == "missing":
            await self._periods.check_period(n)
            return
        year = (
            record.contract_year
            if record is not None
            else contract_year_of(n, run.req.schedule.periods_per_year)
        )
        if year not in state.books:
            run.note("correction_ignored", detail=f"period {n}: year {year} has no book")
            return
        await self._rebook(n, year, record)

    async def _rebook(self, n: int, year: int, record: PeriodRecord | None) -> None:
        run, state = self._run, self._run.state
        result = await run.calls.check(n)
        previous = state.books[year].periods.get(n)
        if not result.report_exists or (previous and previous.version == result.version):
            return
        booked = self._booked(result)
        if previous is not None and previous.figures() == booked.figures():
            state.books[year].periods[n] = booked
            run.note("correction_no_change", detail=f"period {n} v{result.version}")
            return
        book, charge = book_report(
            state.books[year], n, booked, run.req.terms, run.decimals, self._carried(year)
        )
        state.books[year] = book
        if record is not None:
            state.periods[n] = record.model_copy(
                update={
                    "status": "checked",
                    "net_sales": booked.net_sales,
                    "unlicensed_net_sales": booked.unlicensed_net_sales,
                    "royalty_earned": record.royalty_earned + charge.royalty_earned,
                    "unlicensed_royalty": record.unlicensed_royalty + charge.unlicensed_royalty,
                    "kpi_status": result.kpi_status,
                    "report_version": result.version,
                }
            )
        first = previous is None
        key = f"y{year}:p{n}" if first else f"y{year}:p{n}:v{result.version}"
        kind: StatementKind = "period" if first and not book.settled else "adjustment"
        await run.calls.issue(
            run.statement(key, kind, year, charge, period=n),
            {**self._detail(book, result), "adjustment": not first},
        )
        self._summarise(book)
        run.note("correction_applied", detail=f"period {n} v{result.version}: {charge.amount_due}")
        await self.carry_forward(year, key)
        await self._periods.compliance.unlicensed(n, result)
        run.publisher.publish()

    async def close_year(self, year: int) -> None:
        """Year end: settle the minimum guarantee (the true-up statement)."""
        run, state = self._run, self._run.state
        self.open_year(year)
        terms = run.req.terms
        book, summary = settle_year(
            state.books[year],
            terms.minimum_guarantee_for(year),
            terms,
            run.decimals,
            self._carried(year),
        )
        state.books[year] = book
        await run.calls.issue(
            run.statement(f"y{year}:true-up", "true_up", year, summary),
            {
                "billed": str(book.billed),
                "advance_credit": str(book.advance_credit),
                **self._advance(year),
            },
        )
        self._summarise(book, true_up=summary.amount_due)
        run.note("year_closed", detail=f"year {year}: true-up {summary.amount_due}")
        await self.carry_forward(year, f"y{year}:true-up")

    async def final_statement(self, wind: WindDown) -> None:
        """After the last due date: an earlier year still open (terminated in its last
        period's grace) gets its true-up; the final year is settled by the final statement
        (MG pro rata when terminated)."""
        run, state = self._run, self._run.state
        year, terms = wind.final_year, run.req.terms
        for earlier in sorted(y for y, b in state.books.items() if y < year and not b.settled):
            await self.close_year(earlier)
        self.open_year(year)
        book = state.books[year]
        # a settled year keeps its guarantee (and M_y); an open one settles at what it has,
        # or at the MG pro rata when terminated
        guarantee = book.minimum_guarantee if book.settled else book.guarantee
        if wind.kind == "terminated" and not book.settled:
            ended = sum(
                1
                for p in state.periods.values()
                if p.contract_year == year and p.kind == "regular" and p.ends_at <= wind.at
            )
            guarantee = pro_rata_guarantee(
                terms, ended, run.req.schedule.periods_per_year, run.decimals, year
            )
        book, summary = settle_year(book, guarantee, terms, run.decimals, self._carried(year))
        state.books[year] = book
        await run.calls.issue(
            run.statement("final", "final", year, summary),
            {
                "reason": wind.reason,
                "billed": str(book.billed),
                "ended": wind.kind,
                **self._advance(year),
            },
        )
        self._summarise(book, true_up=None)
        await self.carry_forward(year, "final")

    async def carry_forward(self, year: int, trigger: str) -> None:
        """After the money event `trigger` (a statement key) of `year`: bill every later
        year whose owed changed with the advance carried into it (recoupable advance only;
        nothing at all for other deals)."""
        run, state = self._run, self._run.state
        for later, book, charge in carry_forward(state.books, year, run.req.terms, run.decimals):
            state.books[later] = book
            await run.calls.issue(
                run.statement(f"y{later}:carry:{trigger}", "adjustment", later, charge),
                {"billed": str(book.billed), "trigger": trigger, **self._advance(later)},
            )
            self._summarise(book)
            run.note("advance_carried", detail=f"year {later} after {trigger}: {charge.amount_due}")

    # ---- helpers ---------------------------------------------------------------------

    @staticmethod
    def _booked(result: SalesCheckResult) -> BookedPeriod:
        return BookedPeriod(
            net_sales=result.check.net_sales,
            unlicensed_net_sales=result.check.unlicensed_net_sales,
            version=result.version,
            rows=result.check.rows,
        )

    def _carried(self, year: int) -> Decimal:
        """C_y: the advance carried into `year` (0 unless recoupable across the term)."""
        return advance_carried(self._run.state.books, year, self._run.req.terms, self._run.decimals)

    def _advance(self, year: int) -> dict[str, str]:
        """Statement detail of a recoupable advance: carried into the year, recouped in it."""
        terms = self._run.req.terms
        if not terms.advance_recoupable_across_term or year < 2:
            return {}
        carried = self._carried(year)
        owed = year_owed(self._run.state.books[year], terms, self._run.decimals, carried)
        return {"advance_carried": str(carried), "advance_recouped": str(owed.recouped)}

    def _detail(self, book: YearBook, result: SalesCheckResult) -> dict[str, Any]:
        owed = year_owed(book, self._run.req.terms, self._run.decimals)
        return {
            "report_version": result.version,
            "ytd_net_sales": str(owed.net_sales),
            "earned_to_date": str(owed.earned),
            "unlicensed_royalty_to_date": str(owed.unlicensed_royalty),
            "billed": str(book.billed),
            **self._advance(book.contract_year),
        }

    def _summarise(self, book: YearBook, *, true_up: Decimal | None = None) -> None:
        """Keep the year's summary (`state.years`) current once the year is settled."""
        if not book.settled:
            return
        years = self._run.state.years
        existing = next((y for y in years if y.contract_year == book.contract_year), None)
        settled = true_up if true_up is not None else (existing.true_up if existing else 0)
        owed = year_owed(book, self._run.req.terms, self._run.decimals)
        summary = YearSummary(
            contract_year=book.contract_year,
            net_sales=owed.net_sales,
            royalty_earned=owed.earned,
            invoiced=book.billed - Decimal(settled),
            true_up=Decimal(settled),
        )
        years[:] = sorted(
            [y for y in years if y.contract_year != book.contract_year] + [summary],
            key=lambda y: y.contract_year,
        )

    def _convert_legacy(self) -> None:
        """A run continued from one before `year-books`: books from its ledger and years.

        A closed year converts only when all its periods were carried (otherwise its later
        reports are noted, as before)."""
        run, state = self._run, self._run.state
        if state.books or (state.ledger is None and not state.years):
            return
        terms, per_year = run.req.terms, run.req.schedule.periods_per_year
        booked: dict[int, dict[int, BookedPeriod]] = {}
        carried: dict[int, int] = {}
        for p in state.periods.values():
            carried[p.contract_year] = carried.get(p.contract_year, 0) + 1
            if p.status == "checked":
                booked.setdefault(p.contract_year, {})[p.period] = BookedPeriod(
                    net_sales=p.net_sales,
                    unlicensed_net_sales=p.unlicensed_net_sales,
                    version=p.report_version,
                )
        for year in state.years:
            if carried.get(year.contract_year, 0) == per_year:
                state.books[year.contract_year] = book_from_legacy(
                    year.contract_year,
                    terms,
                    booked.get(year.contract_year, {}),
                    year.invoiced + year.true_up,
                    settled=True,
                    decimals=run.decimals,
                )
        ledger = state.ledger
        if ledger is not None and ledger.contract_year not in state.books:
            state.books[ledger.contract_year] = book_from_legacy(
                ledger.contract_year,
                terms,
                booked.get(ledger.contract_year, {}),
                ledger.invoiced,
                settled=False,
                decimals=run.decimals,
            )
        state.ledger = None
