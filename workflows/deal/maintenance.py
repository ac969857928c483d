"""Monitoring and maintenance, period after period: KPI reviews (scheduled or early),
the contract-year close, renewal at term end, and continue-as-new at each year boundary.

Rules: a review nobody decides continues the deal; a notice of breach (compliance task)
brings the review forward to the end of the current period; a renewal nobody decides lets it
expire; a renewal of a deal naming a property extends its grants in the rights ledger first
(patch `rights-ledger`: a conflict refuses it, 409, and opens the renewal task again as
`renewal-<year>-<n>`); `amend` proposes the plan as an amendment
(`workflows.deal.amendments`: plan approval, then the licensee's signature when scope or KPIs
change; the plan in force stays until then, and monitoring goes on meanwhile; runs before
patch `amendment-approval` replaced the plan at once); `terminate` ends the deal with its
final statement. The run continues as new after each closed contract year (or earlier when
Temporal suggests it), carrying the state object whole (a pending amendment included,
resumed by the next run).
"""

from __future__ import annotations

from temporalio import workflow

from domain.deal import Plan
from domain.deal_activity_io import ReviewInput
from domain.deal_messages import RENEWAL_DECISIONS, REVIEW_DECISIONS, TerminateInput
from domain.deal_state import DealRunInput, Stage
from domain.kpi import early_review_due
from domain.schedule import contract_year_of, is_review_period, is_year_end
from domain.tasks import TaskKind
from workflows.deal.amendments import Amendments
from workflows.deal.periods import Periods
from workflows.deal.run import DealRun
from workflows.deal.stops import Terminated
from workflows.patches import AMENDMENT_APPROVAL, CORRECTIONS_BEFORE_YEAR_CLOSE


class Maintenance:
    """Run the licensed term: periods, reviews, year ends, renewal."""

    def __init__(self, run: DealRun, periods: Periods) -> None:
        self._run = run
        self._periods = periods
        self.amendments = Amendments(run)

    async def operate(self) -> None:
        """Monitoring until the term ends (or the run continues as new)."""
        run, state = self._run, self._run.state
        schedule = run.req.schedule
        self.amendments.resume()
        while state.next_period <= state.term_periods:
            period = state.next_period
            year = contract_year_of(period, schedule.periods_per_year)
            self._periods.money.open_year(year)
            await self._periods.run_period(period)
            state.next_period = period + 1
            early = early_review_due(state.kpi_history) or state.breach_review
            if is_review_period(period, schedule.periods_per_review) or early:
                await self._review(period, early=early)
            if is_year_end(period, schedule.periods_per_year):
                # Reports received during the year-end review belong to the closing year.
                if state.corrections and workflow.patched(CORRECTIONS_BEFORE_YEAR_CLOSE):
                    await self._periods.apply_corrections()
                await self._periods.money.close_year(year)
                if period == state.term_periods:
                    await self._renewal(year)
                if state.next_period <= state.term_periods:
                    await self._continue_as_new()
            elif workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()

    async def _review(self, period: int, *, early: bool) -> None:
        run, state = self._run, self._run.state
        await run.enter(Stage.MAINTENANCE, f"{'early ' if early else ''}review after {period}")
        record = state.periods[period]
        if state.breach_review:
            state.breach_review = False
            await run.calls.notify(
                state.partner_contact or run.owners()[0],
                "notice_of_breach",
                f"Notice of breach for {run.req.title}: unlicensed sales; the deal is reviewed",
                f"breach-{period}",
            )
        pack = await run.calls.compile_review(
            ReviewInput(
                deal_id=run.req.deal_id,
                period=period,
                contract_year=record.contract_year,
                partner_id=state.partner_id or "",
                early=early,
                periods=[p for p in state.periods.values() if p.status != "open"],
            )
        )
        state.kpi_history.clear()
        task = run.waits.open(
            f"review-{period}",
            TaskKind.REVIEW_DECISION,
            pack.summary,
            run.owners(),
            REVIEW_DECISIONS,
            version=state.plan_version,
        )
        if await run.waits.wait_for_decision(task):
            run.board.close(task.task_id, "continue", detail="default at timeout")
            run.note("review_default_continue", detail=task.task_id)
        else:
            decision = run.take(task.task_id)
            if decision.decision == "terminate":
                state.termination = TerminateInput(
                    requested_by=decision.decided_by,
                    reason=decision.comment or f"terminated at review {period}",
                )
                raise Terminated()
            if decision.decision == "amend" and decision.plan is not None:
                if workflow.patched(AMENDMENT_APPROVAL):
                    self.amendments.propose(decision.plan, decision.decided_by, period)
                else:
                    self._amend(decision.plan, decision.decided_by)
        await run.enter(Stage.MONITORING, f"review {period} done")

    def _amend(self, plan: Plan, by: str) -> None:
        """Runs before patch `amendment-approval`: the plan is replaced at once."""
        state = self._run.state
        state.plan = plan
        state.plan_version += 1
        self._run.note("plan_amended", by=by, detail=f"plan v{state.plan_version}")

    async def _renewal(self, year: int) -> None:
        run, state = self._run, self._run.state
        await run.enter(Stage.MAINTENANCE, "term end: renewal decision")
        local, title, attempt = f"renewal-{year}", f"Renew {run.req.title} or let it expire", 1
        while True:
            task = run.waits.open(
                local, TaskKind.RENEWAL_DECISION, title, run.owners(), RENEWAL_DECISIONS
            )
            if await run.waits.wait_for_decision(task):
                run.board.close(task.task_id, "expire", detail="default at timeout")
                run.note("renewal_default_expire", detail=task.task_id)
                return
            refused = await self._renewal_refused(task.task_id)
            if refused is None:
                break
            # the ledger refused the renewal: the owner decides again (fewer periods, expire)
            attempt += 1
            local = f"renewal-{year}-{attempt}"
            title = (
                f"Renewal of {run.req.title} refused ({refused}):"
                " renew for fewer periods or let it expire"
            )
        decision = run.take(task.task_id)
        if decision.decision == "renew" and decision.renew_periods:
            state.term_periods += decision.renew_periods
            run.note("renewed", by=decision.decided_by, detail=f"+{decision.renew_periods}")
            await run.enter(Stage.MONITORING, f"renewed to {state.term_periods} periods")

    async def _renewal_refused(self, task_id: str) -> str | None:
        """A renewal extends the grants in the rights ledger first (patch `rights-ledger`);
        the conflict's message when the ledger refuses it (the decision is taken then, and
        its update answers 409), else None (the decision is still to be taken)."""
        run, state = self._run, self._run.state
        decision = state.decisions[task_id]
        if decision.decision != "renew" or not decision.renew_periods or not run.rights.on:
            return None
        local = task_id.rsplit(":", 1)[-1]
        conflict = await run.rights.extend(local, state.term_periods + decision.renew_periods)
        if conflict is None:
            return None
        run.rights.refuse(task_id, conflict, "renew for fewer periods or let the deal expire")
        run.take(task_id)
        return conflict.message()

    async def _continue_as_new(self) -> None:
        """After every handler has finished: the next run gets the state object whole."""
        run, state = self._run, self._run.state
        amendments = self.amendments
        writer = run.read_model.writer  # its last write lands before the run ends
        await workflow.wait_condition(
            lambda: (
                (workflow.all_handlers_finished() and amendments.quiet() and writer.settled())
                or state.termination is not None
            )
        )
        run.raise_if_terminating()
        amendments.before_continue_as_new()
        workflow.continue_as_new(
            DealRunInput(
                request=run.req,
                carry=state.for_next_run(run.req.schedule.periods_per_year),
            )
        )
