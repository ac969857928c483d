"""What the deal shows outside: search attributes, current details and the `state` view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from domain.deal_state import DealState
from domain.royalty import advance_unrecouped
from workflows.search_attributes import (
    DEAL_HEALTH,
    DEAL_OWNER,
    DEAL_STAGE,
    KPI_STATUS,
    LICENSING_PARTNER,
    PENDING_APPROVERS,
)

if TYPE_CHECKING:
    from workflows.deal.run import DealRun

_NONE = object()


class Publisher:
    """Publish the deal after every transition; build the `state` query answer."""

    def __init__(self, run: DealRun) -> None:
        self._run = run
        self._health = "ok"
        """DealHealth as last published ("ok" is never set: a deal without incidents has none)."""
        self._published: dict[str, object] = {}
        """The other search attributes as this run last upserted them (patch lean-calls)."""

    def publish(self) -> None:
        """Search attributes and current details, after every transition; the read model
        is written after it (`workflows/deal/read_model.py`)."""
        req, state = self._run.req, self._run.state
        pending = self._run.board.pending_approvers()
        health: list[SearchAttributeUpdate[Any]] = []
        if state.health != self._health:
            self._health = state.health
            health = [DEAL_HEALTH.value_set(state.health)]
        updates: list[SearchAttributeUpdate[Any]] = [
            DEAL_STAGE.value_set(state.stage.value),
            KPI_STATUS.value_set(state.kpi_status.value),
            DEAL_OWNER.value_set(req.owner) if req.owner else DEAL_OWNER.value_unset(),
            LICENSING_PARTNER.value_set(state.partner_id)
            if state.partner_id
            else LICENSING_PARTNER.value_unset(),
            PENDING_APPROVERS.value_set(pending) if pending else PENDING_APPROVERS.value_unset(),
        ]
        if self._run.lean:
            updates = [u for u in updates if self._published.get(u.key.name, _NONE) != u.value]
            self._published.update((u.key.name, u.value) for u in updates)
        if health or updates:
            workflow.upsert_search_attributes([*health, *updates])
        workflow.set_current_details(self.details())
        self._run.read_model.writer.mark()

    def details(self) -> str:
        req, state = self._run.req, self._run.state
        lines = [
            f"**{req.title}** (`{req.deal_id}`)",
            f"- stage: **{state.stage.value}**, plan v{state.plan_version}",
            f"- partner: {state.partner_id or '-'}, KPI: {state.kpi_status.value}",
        ]
        if state.launched_at is not None:
            lines.append(
                f"- period {min(state.next_period, state.term_periods)}/{state.term_periods},"
                f" contract year {self._run.contract_year()}"
            )
        for task in self._run.board.open_tasks():
            lines.append(f"- open task `{task.task_id}` for {', '.join(task.assignees)}")
        if state.health == "blocked":
            lines.append(f"- **BLOCKED**: {state.incident} (incident task for ops)")
        if state.reason:
            lines.append(f"- reason: {state.reason}")
        return "\n".join(lines)

    def view(self) -> DealState:
        """The full state: stage, open tasks, periods, statements, history."""
        req, state = self._run.req, self._run.state
        return DealState(
            deal_id=req.deal_id,
            title=req.title,
            owner=req.owner,
            stage=state.stage,
            partner_id=state.partner_id,
            plan_version=state.plan_version,
            plan=state.plan,
            kpis=state.plan.kpis,
            kpi_status=state.kpi_status,
            launched_at=state.launched_at,
            contract_year=self._run.contract_year(),
            term_periods=state.term_periods,
            open_tasks=self._run.board.open_tasks(),
            periods=sorted(state.periods.values(), key=lambda p: p.period),
            statements=state.statements,
            history=state.history,
            envelope_id=state.envelope_id,
            request=req,
            years=state.years,
            next_period=state.next_period,
            health=state.health,
            incident=state.incident,
            year_books=self._run.year_books,
            first_booked_year=min(state.books, default=None),
            wind_down=state.wind_down,
            amendment=state.amendment,
            # the currency's minor unit: `run.decimals` may ask `workflow.patched`, which a
            # query must not (deals with this term all bill at the minor unit)
            advance_unrecouped=advance_unrecouped(state.books, req.terms, req.terms.minor_unit)
            if req.terms.advance_recoupable_across_term
            else None,
        )
