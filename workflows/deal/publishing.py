"""What the deal shows outside: search attributes, current details, the `state` query,
and stage transitions (which also sync the read model).
"""

from __future__ import annotations

from temporalio import workflow

from domain.lifecycle import DealState, Stage
from workflows.deal.activity_calls import ActivityCalls
from workflows.search_attributes import (
    DEAL_OWNER,
    DEAL_STAGE,
    KPI_STATUS,
    LICENSING_PARTNER,
    PENDING_APPROVERS,
)


class Publishing(ActivityCalls):
    """Publish the deal after every transition; answer the `state` query."""

    async def _enter(self, stage: Stage, note: str, *, by: str | None = None) -> None:
        self._stage = stage
        self._note(f"stage:{stage.value}", by=by, detail=note)
        self._publish()
        await self._sync()

    def _publish(self) -> None:
        """Search attributes and current details, after every transition."""
        pending = self._board.pending_approvers()
        workflow.upsert_search_attributes(
            [
                DEAL_STAGE.value_set(self._stage.value),
                KPI_STATUS.value_set(self._kpi_status.value),
                DEAL_OWNER.value_set(self._req.owner)
                if self._req.owner
                else DEAL_OWNER.value_unset(),
                LICENSING_PARTNER.value_set(self._partner_id)
                if self._partner_id
                else LICENSING_PARTNER.value_unset(),
                PENDING_APPROVERS.value_set(pending)
                if pending
                else PENDING_APPROVERS.value_unset(),
            ]
        )
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        lines = [
            f"**{self._req.title}** (`{self._req.deal_id}`)",
            f"- stage: **{self._stage.value}**, plan v{self._plan_version}",
            f"- partner: {self._partner_id or '-'}, KPI: {self._kpi_status.value}",
        ]
        if self._launched_at is not None:
            lines.append(
                f"- period {min(self._next_period, self._term_periods)}/{self._term_periods},"
                f" contract year {self._contract_year()}"
            )
        for task in self._board.open_tasks():
            lines.append(f"- open task `{task.task_id}` for {', '.join(task.assignees)}")
        if self._reason:
            lines.append(f"- reason: {self._reason}")
        return "\n".join(lines)

    # ---- query ---------------------------------------------------------------------------

    @workflow.query
    def state(self) -> DealState:
        """The full state: stage, open tasks, periods, statements, history."""
        return DealState(
            deal_id=self._req.deal_id,
            title=self._req.title,
            owner=self._req.owner,
            stage=self._stage,
            partner_id=self._partner_id,
            plan_version=self._plan_version,
            plan=self._plan,
            kpis=self._plan.kpis,
            kpi_status=self._kpi_status,
            launched_at=self._launched_at,
            contract_year=self._contract_year(),
            term_periods=self._term_periods,
            open_tasks=self._board.open_tasks(),
            periods=sorted(self._periods.values(), key=lambda p: p.period),
            statements=self._statements,
            history=self._history,
            envelope_id=self._envelope_id,
            request=self._req,
            years=self._years,
            next_period=self._next_period,
        )
