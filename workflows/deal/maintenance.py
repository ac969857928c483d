"""Maintenance: KPI reviews (scheduled or early), renewal at term end, continue-as-new."""

from __future__ import annotations

from temporalio import workflow

from domain.deal import Plan
from domain.deal_messages import (
    COMPILE_REVIEW,
    RENEWAL_DECISIONS,
    REVIEW_DECISIONS,
    ReviewInput,
    ReviewPack,
)
from domain.kpi import early_review_due
from domain.lifecycle import Stage, TerminateInput
from domain.tasks import TaskKind
from workflows.deal.stops import Terminated
from workflows.deal.task_waits import TaskWaits


class Maintenance(TaskWaits):
    """Reviews and renewal decisions; continue-as-new at a contract-year boundary."""

    def _early_review_due(self) -> bool:
        return early_review_due(self._kpi_history)

    async def _review(self, period: int, *, early: bool) -> None:
        await self._enter(Stage.MAINTENANCE, f"{'early ' if early else ''}review after {period}")
        record = self._periods[period]
        pack = await self._activity(
            COMPILE_REVIEW,
            ReviewInput(
                deal_id=self._req.deal_id,
                period=period,
                contract_year=record.contract_year,
                partner_id=self._partner_id or "",
                early=early,
                periods=[p for p in self._periods.values() if p.status != "open"],
            ),
            ReviewPack,
        )
        self._kpi_history.clear()
        task = self._open(
            f"review-{period}",
            TaskKind.REVIEW_DECISION,
            pack.summary,
            self._owners(),
            REVIEW_DECISIONS,
            version=self._plan_version,
        )
        if await self._human_wait(task, lambda: task.task_id in self._decisions):
            self._board.close(task.task_id, "continue", detail="default at timeout")
            self._note("review_default_continue", detail=task.task_id)
        else:
            decision = self._take(task.task_id)
            if decision.decision == "terminate":
                self._termination = TerminateInput(
                    requested_by=decision.decided_by,
                    reason=decision.comment or f"terminated at review {period}",
                )
                raise Terminated()
            if decision.decision == "amend" and decision.plan is not None:
                self._amend(decision.plan, decision.decided_by)
        await self._enter(Stage.MONITORING, f"review {period} done")

    def _amend(self, plan: Plan, by: str) -> None:
        self._plan = plan
        self._plan_version += 1
        self._note("plan_amended", by=by, detail=f"plan v{self._plan_version}")

    async def _renewal(self, year: int) -> None:
        await self._enter(Stage.MAINTENANCE, "term end: renewal decision")
        task = self._open(
            f"renewal-{year}",
            TaskKind.RENEWAL_DECISION,
            f"Renew {self._req.title} or let it expire",
            self._owners(),
            RENEWAL_DECISIONS,
        )
        if await self._human_wait(task, lambda: task.task_id in self._decisions):
            self._board.close(task.task_id, "expire", detail="default at timeout")
            self._note("renewal_default_expire", detail=task.task_id)
            return
        decision = self._take(task.task_id)
        if decision.decision == "renew" and decision.renew_periods:
            self._term_periods += decision.renew_periods
            self._note("renewed", by=decision.decided_by, detail=f"+{decision.renew_periods}")
            await self._enter(Stage.MONITORING, f"renewed to {self._term_periods} periods")

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() or self._termination is not None
        )
        self._raise_if_terminating()
        workflow.continue_as_new(self._carry_over())
