"""Implementation stage: partner selection through PartnerApproval children, then signing.

Rules:

* Candidates are tried in order; a partner that cannot be loaded or whose approval fails
  is skipped. When none is approved, the owner is asked to add candidates.
* Signature not completed within 3x the decision SLA cancels the deal.
* Signature declined: the owner gets a `signature_decision` task
  (`signature-declined-<round>`, decliner and reason in its title and history) to decide
  `resend` (a new envelope and signature task, round + 1, idempotency key
  `signature-<round+1>`) or `cancel` (the deal is cancelled with the decline reason). The
  task has the usual reminder and escalation; expiry cancels the deal. Runs started before
  the `signature-decline-decision` patch still cancel at once on a decline.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from domain.approval import PartnerApprovalInput, PartnerApprovalResult
from domain.approval_messages import WithdrawInput
from domain.deal_activity_io import RequestSignatureInput, Signatory
from domain.deal_messages import (
    ADD_PARTNERS,
    SIGNATURE_DECISIONS,
    SIGNATURE_DECLINE_DECISIONS,
    SignatureEvent,
)
from domain.deal_state import Stage
from domain.ids import partner_approval_id
from domain.partner import PartnerProfile
from domain.tasks import TaskKind
from workflows.deal.run import DealRun
from workflows.deal.stops import Cancelled, Terminated
from workflows.partner_approval import PartnerApprovalWorkflow
from workflows.patches import SIGNATURE_DECLINE_DECISION


class Contracting:
    """Select and approve a partner, collect the contract signatures, launch."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    async def implementation(self) -> None:
        run, state = self._run, self._run.state
        if state.partner_id is None:
            await self._select_partner()
        if state.launched_at is None:
            await self._collect_signatures()
            state.launched_at = run.req.schedule.start or workflow.now()
            run.note("launched", detail=state.launched_at.isoformat())
            await run.calls.notify(
                state.partner_contact or run.req.licensor_signatory,
                "deal_launched",
                f"Deal {run.req.title} is signed and launched",
                "launch",
            )
        await run.enter(Stage.MONITORING, "contract signed, deal launched")

    async def _select_partner(self) -> None:
        run, state = self._run, self._run.state
        while True:
            while state.partner_index < len(state.partners):
                partner_id = state.partners[state.partner_index]
                state.partner_index += 1
                profile = await run.calls.load_partner(partner_id)
                if profile is None:
                    continue
                result = await self._approve_partner(profile)
                if result is not None and result.outcome == "approved":
                    state.partner_id = partner_id
                    state.partner_contact = profile.contact_user
                    run.publisher.publish()
                    return
            task = run.waits.open(
                f"partner-selection-{state.partner_index}",
                TaskKind.PARTNER_SELECTION,
                "No partner approved: add partner candidates",
                run.owners(),
                [ADD_PARTNERS],
            )

            def partners_added(tried: int = state.partner_index) -> bool:
                return len(state.partners) > tried

            if await run.waits.wait(task, partners_added):
                raise Cancelled("no partner approved and none added in time")

    async def _approve_partner(self, profile: PartnerProfile) -> PartnerApprovalResult | None:
        run, state = self._run, self._run.state
        child_id = partner_approval_id(run.req.deal_id, profile.partner_id)
        handle = await workflow.start_child_workflow(
            PartnerApprovalWorkflow.run,
            PartnerApprovalInput(
                deal_id=run.req.deal_id,
                partner=profile,
                scope=state.plan.scope,
                requester=run.owners()[0],
                chain=run.req.partner_approval_chain,
                decision_sla=run.req.schedule.decision_sla,
            ),
            id=child_id,
            task_queue=workflow.info().task_queue,
            static_summary=f"Partner approval of {profile.partner_id} for deal {run.req.deal_id}",
        )
        run.note("partner_approval_started", detail=child_id)
        await workflow.wait_condition(lambda: handle.done() or state.termination is not None)
        if not handle.done():
            await handle.signal(
                PartnerApprovalWorkflow.withdraw,
                WithdrawInput(requested_by=run.termination_by(), reason="deal terminated"),
            )
            try:
                await workflow.wait_condition(handle.done, timeout=timedelta(minutes=5))
            except TimeoutError:
                handle.cancel()
            raise Terminated()
        try:
            result = handle.result()
        except ChildWorkflowError as err:
            run.note("partner_approval_failed", detail=f"{profile.partner_id}: {err.cause}")
            return None
        run.note(f"partner_{result.outcome}", detail=profile.partner_id)
        return result

    async def _collect_signatures(self) -> None:
        """Signature rounds until the contract is signed; a decline goes to the owner."""
        while True:
            event = await self._signature_round()
            if event.event == "completed":
                return
            by = event.by or "a signatory"
            if not workflow.patched(SIGNATURE_DECLINE_DECISION):
                raise Cancelled(f"signature declined by {by}")
            await self._decide_after_decline(event, by)

    async def _signature_round(self) -> SignatureEvent:
        run, state = self._run, self._run.state
        state.signature_round += 1
        local = f"signature-{state.signature_round}"
        ref = await run.calls.request_signature(
            RequestSignatureInput(
                idempotency_key=run.task_id(local),
                deal_id=run.req.deal_id,
                workflow_id=workflow.info().workflow_id,
                title=run.req.title,
                partner_id=state.partner_id or "",
                plan_version=state.plan_version,
                signatories=[
                    Signatory(user=run.req.licensor_signatory, role="licensor"),
                    Signatory(user=state.partner_contact or "", role="licensee"),
                ],
            )
        )
        state.envelope_id = ref.envelope_id
        state.signature = None
        run.note("signature_requested", detail=f"{ref.provider}:{ref.envelope_id}")
        task = run.waits.open(
            local,
            TaskKind.SIGNATURE,
            f"Sign the licensing contract of {run.req.title}",
            [run.req.licensor_signatory, state.partner_contact or ""],
            SIGNATURE_DECISIONS,
        )
        if await run.waits.wait(task, lambda: state.signature is not None):
            raise Cancelled("signature not completed in time")
        event = state.signature
        assert event is not None
        outcome = "signed" if event.event == "completed" else "declined"
        run.board.close(task.task_id, outcome, by=event.by, detail=event.reason)
        run.publisher.publish()
        return event

    async def _decide_after_decline(self, event: SignatureEvent, by: str) -> None:
        """The owner decides `resend` (returns) or `cancel` (raises Cancelled)."""
        run, state = self._run, self._run.state
        reason = event.reason or "no reason given"
        declined = f"signature declined by {by}: {reason}"
        task = run.waits.open(
            f"signature-declined-{state.signature_round}",
            TaskKind.SIGNATURE_DECISION,
            f"Contract of {run.req.title}: {declined}. Resend or cancel?",
            run.owners(),
            SIGNATURE_DECLINE_DECISIONS,
        )
        run.board.note(task.task_id, "signature_declined", by=event.by, detail=reason)
        if await run.waits.wait_for_decision(task):
            run.board.close(task.task_id, "cancel", detail="default at timeout")
            raise Cancelled(f"{declined}; no decision in time")
        decision = run.take(task.task_id)
        if decision.decision == "cancel":
            comment = f" ({decision.comment})" if decision.comment else ""
            raise Cancelled(f"{declined}; cancelled by {decision.decided_by}{comment}")
        run.note("signature_resent", by=decision.decided_by, detail=decision.comment)
