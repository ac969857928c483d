"""Test-only stand-ins registered as "LicensingDeal" / "PartnerApproval" to test API routing.

They keep the real message contracts (inputs, update/signal/query names, error types) but
none of the business process: every deal opens a plan approval and a signature task, and
records itself (deal row + `deal.create` audit row) through the real read-model activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.approval import DecideInput, PartnerApprovalInput, PartnerApprovalState, TrailEntry
from domain.common import HistoryEntry
from domain.deal_activity_io import DealReadModelInput
from domain.deal_messages import (
    SalesReportReceived,
    SignatureEvent,
    TaskDecisionInput,
    TerminateInput,
)
from domain.deal_state import DealRunInput, DealState, Stage
from domain.tasks import TaskKind
from workflows.human_tasks import TaskBoard
from workflows.refusals import refuse
from workflows.search_attributes import DEAL_STAGE, LICENSING_PARTNER, PENDING_APPROVERS

FINAL = (Stage.COMPLETED, Stage.TERMINATED, Stage.CANCELLED)


def _reject(kind: str, message: str, field: str | None = None) -> ApplicationError:
    return refuse(message, kind, field)


@workflow.defn(name="LicensingDeal")
class StubDeal:
    """A deal in monitoring with an open plan approval and signature task."""

    def __init__(self) -> None:
        self._board = TaskBoard()
        self._stage = Stage.MONITORING
        self._history: list[HistoryEntry] = []
        self._params: DealRunInput | None = None

    @workflow.run
    async def run(self, params: DealRunInput) -> str:
        self._params = params
        req = params.request
        self._board.open(
            local_id="plan-approval",
            kind=TaskKind.PLAN_APPROVAL,
            deal_id=req.deal_id,
            title="Approve the plan",
            assignees=req.plan_approvers,
            due_in=timedelta(days=5),
            allowed_decisions=["approve", "reject"],
        )
        self._board.open(
            local_id="signature-1",
            kind=TaskKind.SIGNATURE,
            deal_id=req.deal_id,
            title="Sign the contract",
            assignees=[req.licensor_signatory],
            due_in=timedelta(days=6),
            allowed_decisions=["sign", "decline"],
        )
        self._publish()
        await workflow.execute_activity(
            "sync_deal_read_model",
            DealReadModelInput(
                deal_id=req.deal_id,
                workflow_id=workflow.info().workflow_id,
                stage=self._stage,
                partner_id=req.partners[0],
                request=req,
                created_by=params.created_by,
                request_id=params.request_id,
            ),
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=30),
        )
        await workflow.wait_condition(
            lambda: self._stage in FINAL and workflow.all_handlers_finished()
        )
        return self._stage.value

    def _publish(self) -> None:
        assert self._params is not None
        workflow.upsert_search_attributes(
            [
                DEAL_STAGE.value_set(self._stage.value),
                LICENSING_PARTNER.value_set(self._params.request.partners[0]),
                PENDING_APPROVERS.value_set(self._board.pending_approvers()),
            ]
        )

    def _note(self, event: str, by: str | None = None, detail: str | None = None) -> None:
        self._history.append(HistoryEntry(at=workflow.now(), event=event, by=by, detail=detail))

    @workflow.query
    def state(self) -> DealState:
        assert self._params is not None
        req = self._params.request
        return DealState(
            deal_id=req.deal_id,
            title=req.title,
            owner=req.owner,
            stage=self._stage,
            partner_id=req.partners[0],
            plan=req.plan,
            term_periods=req.schedule.term_periods,
            open_tasks=self._board.open_tasks(),
            history=self._history,
            envelope_id=f"env-{req.deal_id}",
            request=req,
        )

    @workflow.update
    async def decide(self, params: TaskDecisionInput) -> DealState:
        self._board.close(params.task_id, params.decision, by=params.decided_by)
        self._note(f"task:{params.decision}", by=params.decided_by, detail=params.task_id)
        self._publish()
        return self.state()

    @decide.validator
    def _check_decision(self, params: TaskDecisionInput) -> None:
        task = self._board.get(params.task_id)
        if task is None:
            raise _reject(errors.NOT_FOUND, f"no task {params.task_id}")
        if task.closed_at is not None:
            raise _reject(errors.CONFLICT, f"task {params.task_id} is closed already")
        if params.decided_by not in task.assignees:
            raise _reject(errors.FORBIDDEN, f"task is not assigned to {params.decided_by}")
        if params.decision not in task.allowed_decisions:
            raise _reject(
                errors.INVALID, f"decision must be one of {task.allowed_decisions}", "decision"
            )
        if task.kind is TaskKind.SIGNATURE:
            raise _reject(errors.CONFLICT, "signature tasks are signed at the provider")

    @workflow.update
    async def terminate(self, params: TerminateInput) -> DealState:
        self._stage = Stage.TERMINATED
        self._note("terminated", by=params.requested_by, detail=params.reason)
        self._publish()
        return self.state()

    @terminate.validator
    def _check_terminate(self, params: TerminateInput) -> None:
        if self._stage in FINAL:
            raise _reject(errors.CONFLICT, f"deal is {self._stage.value} already")

    @workflow.signal
    def signature_completed(self, event: SignatureEvent) -> None:
        self._note("signature_completed", by=event.by, detail=event.envelope_id)

    @workflow.signal
    def signature_declined(self, event: SignatureEvent) -> None:
        self._note("signature_declined", by=event.by, detail=event.reason)

    @workflow.signal
    def sales_report_received(self, received: SalesReportReceived) -> None:
        detail = f"{received.reported_period}/{received.version}/{received.lines}"
        self._note("sales_report_received", detail=detail)


@workflow.defn(name="PartnerApproval")
class StubPartnerApproval:
    """One approval step; the task closes on the first valid decision."""

    def __init__(self) -> None:
        self._board = TaskBoard()
        self._input: PartnerApprovalInput | None = None
        self._status = "awaiting_decision"
        self._trail: list[TrailEntry] = []

    @workflow.run
    async def run(self, params: PartnerApprovalInput) -> str:
        self._input = params
        step = params.chain[0]
        self._board.open(
            local_id=f"v{params.version}-{step.step}",
            kind=TaskKind.PARTNER_APPROVAL,
            deal_id=params.deal_id,
            title=f"Approve partner {params.partner.partner_id}",
            assignees=step.approvers,
            due_in=timedelta(days=5),
            allowed_decisions=["approve", "reject", "needs_revision", "delegate"],
            step=step.step,
        )
        workflow.upsert_search_attributes(
            [PENDING_APPROVERS.value_set(self._board.pending_approvers())]
        )
        await workflow.wait_condition(
            lambda: self._status != "awaiting_decision" and workflow.all_handlers_finished()
        )
        return self._status

    @workflow.query
    def state(self) -> PartnerApprovalState:
        assert self._input is not None
        return PartnerApprovalState(
            deal_id=self._input.deal_id,
            partner_id=self._input.partner.partner_id,
            status=self._status,
            version=self._input.version,
            open_tasks=self._board.open_tasks(),
            trail=self._trail,
        )

    @workflow.update
    async def decide(self, params: DecideInput) -> PartnerApprovalState:
        assert params.task_id is not None
        task = self._board.close(params.task_id, params.decision.value, by=params.decided_by)
        self._trail.append(
            TrailEntry(
                at=workflow.now(),
                version=task.version,
                step=task.step or "",
                actor=params.decided_by,
                decision=params.decision.value,
                comment=params.comment,
            )
        )
        self._status = "approved" if params.decision == "approve" else params.decision.value
        workflow.upsert_search_attributes([PENDING_APPROVERS.value_set([])])
        return self.state()

    @decide.validator
    def _check(self, params: DecideInput) -> None:
        task = self._board.get(params.task_id or "")
        if task is None:
            raise _reject(errors.NOT_FOUND, f"no task {params.task_id}")
        if task.closed_at is not None:
            raise _reject(errors.CONFLICT, "task is closed already")
        if params.decided_by not in task.assignees:
            raise _reject(errors.FORBIDDEN, f"task is not assigned to {params.decided_by}")
        if params.decision == "delegate" and not params.delegate_to:
            raise _reject(errors.INVALID, "delegate needs delegate_to")
