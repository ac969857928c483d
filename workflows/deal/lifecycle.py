"""The stages of a deal, run in order by `LicensingDealWorkflow.run`.

Stages: needs_analysis -> planning -> implementation -> monitoring <-> maintenance ->
completed; `terminate` at any stage ends in terminated; expired human waits end in
cancelled. The run continues as new at each contract-year boundary.
"""

from __future__ import annotations

from temporalio import workflow

from domain.deal_messages import PLAN_DECISIONS
from domain.lifecycle import Stage
from domain.royalty import open_year
from domain.schedule import contract_year_of, is_review_period, is_year_end
from domain.tasks import TaskKind
from workflows.deal.contracting import Contracting
from workflows.deal.endings import Endings
from workflows.deal.maintenance import Maintenance
from workflows.deal.periods import Periods
from workflows.deal.stops import Cancelled


class Lifecycle(Contracting, Periods, Maintenance, Endings):
    """Needs analysis, planning, implementation, then monitoring period after period."""

    async def _needs_analysis(self) -> None:
        await self._sync()
        if self._needs is None:
            task = self._open(
                "needs",
                TaskKind.NEEDS,
                "Submit the needs analysis (objectives and audience)",
                self._owners(),
                ["submit"],
            )
            expired = await self._human_wait(task, lambda: self._needs is not None)
            if expired:
                raise Cancelled("needs analysis not submitted in time")
        self._acked.add("needs")
        await self._enter(Stage.PLANNING, "needs analysed")

    async def _planning(self) -> None:
        while True:
            local = f"plan-v{self._plan_version}"
            task = self._board.get(self._task_id(local)) or self._open(
                local,
                TaskKind.PLAN_APPROVAL,
                f"Approve plan v{self._plan_version} of {self._req.title}",
                list(self._req.plan_approvers),
                PLAN_DECISIONS,
                version=self._plan_version,
            )
            self._acked.add(f"revise-{self._plan_version}")
            if await self._human_wait(task, lambda t=task.task_id: t in self._decisions):
                raise Cancelled(f"plan v{self._plan_version} not approved in time")
            decision = self._take(task.task_id)
            if decision.decision == "approve":
                break
            revision = self._open(
                f"revise-v{self._plan_version}",
                TaskKind.PLAN_REVISION,
                f"Revise plan v{self._plan_version}: {decision.comment}",
                self._owners(),
                ["revise"],
                version=self._plan_version,
            )
            rejected = self._plan_version
            if await self._human_wait(revision, lambda r=rejected: self._plan_version > r):
                raise Cancelled(f"plan v{rejected} rejected and not revised in time")
        await self._enter(Stage.IMPLEMENTATION, f"plan v{self._plan_version} approved")

    async def _implementation(self) -> None:
        if self._partner_id is None:
            await self._select_partner()
        if self._launched_at is None:
            await self._collect_signatures()
            self._launched_at = self._req.schedule.start or workflow.now()
            self._note("launched", detail=self._launched_at.isoformat())
            await self._notify(
                self._partner_contact or self._req.licensor_signatory,
                "deal_launched",
                f"Deal {self._req.title} is signed and launched",
                "launch",
            )
        await self._enter(Stage.MONITORING, "contract signed, deal launched")

    async def _operate(self) -> None:
        schedule = self._req.schedule
        while self._next_period <= self._term_periods:
            period = self._next_period
            year = contract_year_of(period, schedule.periods_per_year)
            if self._ledger is None or self._ledger.contract_year != year:
                self._ledger = open_year(year, self._req.terms)
            await self._run_period(period)
            self._next_period = period + 1
            early = self._early_review_due()
            if is_review_period(period, schedule.periods_per_review) or early:
                await self._review(period, early=early)
            if is_year_end(period, schedule.periods_per_year):
                # Reports received during the year-end review belong to the closing year.
                if self._corrections and workflow.patched("corrections-before-year-close"):
                    await self._apply_corrections()
                await self._close_year()
                if period == self._term_periods:
                    await self._renewal(year)
                if self._next_period <= self._term_periods:
                    await self._continue_as_new()
            elif workflow.info().is_continue_as_new_suggested():
                await self._continue_as_new()
        await self._finish(Stage.COMPLETED, "term ended")
