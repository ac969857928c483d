"""LicensingDeal: one durable workflow per deal, from needs analysis to the end of the term.

This file is the workflow's whole public contract: its input and result, every update
(with its validator), signal and query, and the order of the stages. Each handler is a
thin delegate; the work is done by helpers that receive the run (`workflows.deal.run`):

* `planning` - needs analysis and plan approval; `contracting` - partner approval and
  signing; `periods` - reporting periods, corrections, statements; `maintenance` - the
  licensed term: reviews, year ends, renewal, continue-as-new; `endings` - termination,
  completion, cancellation;
* `decisions` - people's decisions (one `decide` entry point); `events` - e-signature and
  sales-report signals; `publishing` - search attributes, details, the `state` view;
  `calls` - activities; `task_waits` - human tasks with reminder, escalation, expiry.

Business rules are documented in the module that applies them.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain.deal_messages import (
    AddPartnersInput,
    RevisePlanInput,
    SalesReportReceived,
    SignatureEvent,
    SubmitNeedsInput,
    TaskDecisionInput,
    TerminateInput,
)
from domain.deal_state import DealOutcome, DealRunInput, DealState, Stage
from domain.tasks import TaskKind
from workflows.deal.contracting import Contracting
from workflows.deal.decisions import DECIDED_BY_DECIDE_TASK, DealDecisions, Done
from workflows.deal.endings import Endings
from workflows.deal.events import DealEvents
from workflows.deal.maintenance import Maintenance
from workflows.deal.periods import Periods
from workflows.deal.planning import Planning
from workflows.deal.run import DealRun
from workflows.deal.stops import Cancelled, Terminated
from workflows.refusals import check_at_edge

__all__ = ["LicensingDealWorkflow"]


async def _until(done: Done) -> None:
    """Wait for an applied input's condition (no wait when it already holds)."""
    if not done():
        await workflow.wait_condition(done)


@workflow.defn(name="LicensingDeal")
class LicensingDealWorkflow:
    """The whole lifecycle of one licensing deal (workflow id `deal-<deal_id>`)."""

    @workflow.init
    def __init__(self, params: DealRunInput) -> None:
        self._deal = DealRun(params)
        self._decisions = DealDecisions(self._deal)
        self._events = DealEvents(self._deal)
        self._planning = Planning(self._deal)
        self._contracting = Contracting(self._deal)
        periods = Periods(self._deal)
        self._maintenance = Maintenance(self._deal, periods)
        self._endings = Endings(self._deal, periods)

    @workflow.run
    async def run(self, params: DealRunInput) -> DealOutcome:
        """needs_analysis -> planning -> implementation -> monitoring <-> maintenance ->
        winding_down -> completed; `terminate` at any stage ends in terminated (through
        winding_down once launched); expired human waits end in
        cancelled. A continued run resumes at the stage it carries."""
        deal, state = self._deal, self._deal.state
        deal.read_model.writer.start()
        deal.publisher.publish()
        try:
            if state.stage is Stage.NEEDS_ANALYSIS:
                await self._planning.needs_analysis()
            if state.stage is Stage.PLANNING:
                await self._planning.planning()
            if state.stage is Stage.IMPLEMENTATION:
                await self._contracting.implementation()
            if state.stage in (Stage.MONITORING, Stage.MAINTENANCE):
                await self._maintenance.operate()
            if state.stage in (Stage.MONITORING, Stage.MAINTENANCE, Stage.WINDING_DOWN):
                await self._endings.complete()
        except Terminated:
            await self._endings.terminate()
        except Cancelled as stop:
            await self._endings.finish(Stage.CANCELLED, stop.reason)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await deal.read_model.writer.stop()
        return DealOutcome(
            deal_id=deal.req.deal_id,
            stage=state.stage,
            reason=state.reason,
            partner_id=state.partner_id,
            plan_version=state.plan_version,
            contract_year=deal.contract_year(),
            years=state.years,
        )

    # ---- query -------------------------------------------------------------------------

    @workflow.query
    def state(self) -> DealState:
        """The full state: stage, open tasks, periods, statements, history."""
        return self._deal.publisher.view()

    # ---- decisions of people -----------------------------------------------------------

    @workflow.update
    async def decide(self, inp: TaskDecisionInput) -> DealState:
        """A decision on any open task of the deal, routed by the task's kind."""
        return await self._decide(inp)

    @decide.validator
    def _validate_decide(self, inp: TaskDecisionInput) -> None:
        check_at_edge(inp)
        self._decisions.check(inp)
        self._deal.rights.check_plan(inp.plan)

    @workflow.signal
    def decide_signal(self, inp: TaskDecisionInput) -> None:
        """Ops tooling: same as `decide`; a refused decision is noted, not applied."""
        self._decide_by_signal(inp, "decide")

    @workflow.update
    async def terminate(self, inp: TerminateInput) -> DealState:
        """Owner terminates the deal at any stage: final statement, partner notified."""
        await _until(self._decisions.apply_terminate(inp))
        return await self._written()

    @terminate.validator
    def _validate_terminate(self, inp: TerminateInput) -> None:
        check_at_edge(inp)
        self._decisions.check_terminate(inp)

    @workflow.signal
    def terminate_signal(self, inp: TerminateInput) -> None:
        """Ops tooling: same as `terminate`; a refused request is noted, not applied."""
        try:
            self._decisions.check_terminate(inp)
        except ApplicationError as refused:
            self._deal.note("signal_rejected", by=inp.requested_by, detail=f"terminate: {refused}")
            return
        self._decisions.apply_terminate(inp)

    async def _decide(self, inp: TaskDecisionInput) -> DealState:
        await _until(self._decisions.apply(inp))
        # an approval or renewal the rights ledger refused answers 409 naming the conflict
        self._deal.rights.raise_refusal(self._deal.full_task_id(inp.task_id))
        return await self._written()

    async def _written(self) -> DealState:
        """The state an update answers, once the read model holds it (read-your-writes:
        a GET right after the answer shows the change; runs before patch `read-model` answer
        at once)."""
        await self._deal.read_model.writer.flushed()
        return self.state()

    def _decide_by_signal(
        self, inp: TaskDecisionInput, name: str, *, kinds: frozenset[TaskKind] | None = None
    ) -> None:
        try:
            self._decisions.check(inp, kinds=kinds)
        except ApplicationError as refused:
            self._deal.note("signal_rejected", by=inp.decided_by, detail=f"{name}: {refused}")
            return
        self._decisions.apply(inp)

    # ---- events from systems -----------------------------------------------------------

    @workflow.signal
    def signature_completed(self, event: SignatureEvent) -> None:
        """Every signatory signed the current envelope."""
        self._events.settle_signature(event, "completed")

    @workflow.signal
    def signature_declined(self, event: SignatureEvent) -> None:
        """A signatory declined (or the provider voided) the current envelope."""
        self._events.settle_signature(event, "declined")

    @workflow.signal
    def sales_report_received(self, inp: SalesReportReceived) -> None:
        """A partner's report (already persisted) arrived; duplicates by (period, version)."""
        self._events.report_received(inp)

    # ---- earlier names of the same inputs: deals started before `decide` (and their
    # recorded histories) use them; same validation, same effect. -------------------------

    @workflow.update
    async def decide_task(self, inp: TaskDecisionInput) -> DealState:
        """Earlier `decide`, for plan approval, review, renewal and declined signature."""
        return await self._decide(inp)

    @decide_task.validator
    def _validate_decide_task(self, inp: TaskDecisionInput) -> None:
        check_at_edge(inp)
        self._decisions.check(inp, kinds=DECIDED_BY_DECIDE_TASK)
        self._deal.rights.check_plan(inp.plan)

    @workflow.signal
    def decide_task_signal(self, inp: TaskDecisionInput) -> None:
        """Earlier `decide_signal`, for the same kinds as `decide_task`."""
        self._decide_by_signal(inp, "decide_task", kinds=DECIDED_BY_DECIDE_TASK)

    @workflow.update
    async def submit_needs(self, inp: SubmitNeedsInput) -> DealState:
        """Owner submits the missing needs analysis (now `decide` on the needs task)."""
        await _until(self._decisions.apply_needs(inp.submitted_by, inp.needs))
        return await self._written()

    @submit_needs.validator
    def _validate_submit_needs(self, inp: SubmitNeedsInput) -> None:
        check_at_edge(inp)
        self._decisions.check_needs(inp)

    @workflow.update
    async def revise_plan(self, inp: RevisePlanInput) -> DealState:
        """Owner revises a rejected plan (now `decide` on the plan_revision task)."""
        await _until(self._decisions.apply_revision(inp.submitted_by, inp.plan, inp.comment))
        return await self._written()

    @revise_plan.validator
    def _validate_revise_plan(self, inp: RevisePlanInput) -> None:
        check_at_edge(inp)
        self._decisions.check_revision(inp.submitted_by)
        self._deal.rights.check_plan(inp.plan)

    @workflow.update
    async def add_partners(self, inp: AddPartnersInput) -> DealState:
        """Owner adds partner candidates (now `decide` on the partner_selection task)."""
        await _until(self._decisions.apply_partners(inp.submitted_by, inp.partners))
        return await self._written()

    @add_partners.validator
    def _validate_add_partners(self, inp: AddPartnersInput) -> None:
        check_at_edge(inp)
        self._decisions.check_partners(inp.submitted_by)
