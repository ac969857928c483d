"""`DealRun`: one run of a deal - its request, its state object and the helpers acting on
them. Stage helpers receive the run; nothing else holds deal state."""

from __future__ import annotations

from temporalio import workflow

from domain.common import HistoryEntry
from domain.currency import to_minor
from domain.deal_messages import TaskDecisionInput
from domain.deal_state import (
    HISTORY_IN_MEMORY,
    DealRunInput,
    DealWorkflowState,
    Stage,
    Statement,
    StatementKind,
)
from domain.durations import parse_duration
from domain.royalty import Amounts
from workflows.deal.calls import DealCalls
from workflows.deal.compliance import Compliance
from workflows.deal.incidents import Incidents
from workflows.deal.publishing import Publisher
from workflows.deal.read_model import DealReadModel
from workflows.deal.rights import Rights
from workflows.deal.stops import Terminated
from workflows.deal.task_waits import TaskWaits
from workflows.human_tasks import TaskBoard
from workflows.patches import CURRENCY_MINOR_UNITS, LEAN_CALLS, READ_MODEL, YEAR_BOOKS


class DealRun:
    """The request, the one state object, the task board and the held helpers."""

    def __init__(self, params: DealRunInput) -> None:
        self.req = params.request
        self.state = params.carry or DealWorkflowState.first_run(params.request)
        self.created_by = params.created_by
        self.request_id = params.request_id
        self.board = TaskBoard(self.state.tasks)
        self.calls = DealCalls(self)
        self.publisher = Publisher(self)
        self.waits = TaskWaits(self)
        self.incidents = Incidents(self)
        self.compliance = Compliance(self)
        self._decimals: int | None = None
        self.year_books = workflow.patched(YEAR_BOOKS)
        """Money by contract-year books (asked once, when the run starts)."""
        self.rights = Rights(self)
        """The deal's grants in the rights ledger (deals naming a property)."""
        if self.state.notes is None:
            self.state.notes = len(self.state.history)
        self.read_model = DealReadModel(self, on=workflow.patched(READ_MODEL))
        """The Postgres read model, written by the run itself (asked once, when it starts)."""
        self.board.on_change = self.read_model.writer.mark
        self.lean = workflow.patched(LEAN_CALLS)
        """Local sales checks and statement inserts, search attributes upserted on change,
        one read-model write per period (asked once, when the run starts)."""

    # ---- derived values --------------------------------------------------------------

    def owners(self) -> list[str]:
        return self.req.owners()

    def contract_year(self) -> int:
        return self.state.contract_year(self.req.schedule.periods_per_year)

    @property
    def decimals(self) -> int:
        """Decimals statements are rounded to: the currency's minor unit (patched
        currency-minor-units; runs before it rounded every currency to cents)."""
        if self._decimals is None:
            unit = self.req.terms.minor_unit
            self._decimals = unit if unit == 2 or workflow.patched(CURRENCY_MINOR_UNITS) else 2
        return self._decimals

    def last_reportable_period(self) -> int:
        """The term's last period, or the sell-off period after it (year books: reports for
        it are taken before final accounting starts, so a short sell-off is never missed)."""
        state = self.state
        sell_off = self.year_books and state.wind_down is None and self.req.terms.sell_off
        return state.term_periods + (1 if sell_off else 0)

    def termination_by(self) -> str:
        termination = self.state.termination
        return termination.requested_by if termination else self.owners()[0]

    def task_id(self, local: str) -> str:
        return f"{workflow.info().workflow_id}:{local}"

    def full_task_id(self, task_id: str) -> str:
        prefix = f"{workflow.info().workflow_id}:"
        return task_id if task_id.startswith(prefix) else prefix + task_id

    # ---- bookkeeping -----------------------------------------------------------------

    def note(self, event: str, *, by: str | None = None, detail: str | None = None) -> None:
        history = self.state.history
        history.append(HistoryEntry(at=workflow.now(), event=event, by=by, detail=detail))
        del history[:-HISTORY_IN_MEMORY]
        self.state.notes = (self.state.notes or 0) + 1
        self.read_model.writer.mark()

    def raise_if_terminating(self) -> None:
        if self.state.termination is not None:
            raise Terminated()

    def take(self, task_id: str) -> TaskDecisionInput:
        """The decision on `task_id`, now taken (the update that applied it returns)."""
        return self.state.decisions.pop(task_id)

    def statement(
        self,
        key: str,
        kind: StatementKind,
        year: int,
        amounts: Amounts,
        *,
        period: int | None = None,
    ) -> Statement:
        """A statement `<deal>:<key>` of `kind` issued now in the deal's currency, every
        amount at the currency's minor unit, due after the deal's payment terms. A negative
        amount is a credit note whatever the event."""
        money = amounts.model_dump(include=set(Amounts.model_fields) - {"breakdown"})
        now = workflow.now()
        due_at = None
        if self.year_books:
            due_at = parse_duration(self.req.terms.payment_terms).add_to(now)
            if amounts.amount_due < 0:
                kind = "credit_note"
        return Statement(
            statement_id=f"{self.req.deal_id}:{key}",
            kind=kind,
            contract_year=year,
            period=period,
            currency=self.req.terms.currency,
            issued_at=now,
            due_at=due_at,
            breakdown=amounts.breakdown,
            **{name: to_minor(value, self.decimals) for name, value in money.items()},
        )

    async def enter(self, stage: Stage, note: str, *, by: str | None = None) -> None:
        """Move to `stage`: history, search attributes, details and the read model (runs
        before patch `read-model` sync it by an activity; later ones by their writer)."""
        self.state.stage = stage
        self.note(f"stage:{stage.value}", by=by, detail=note)
        self.publisher.publish()
        if not self.read_model.writer.on:
            await self.calls.sync()
