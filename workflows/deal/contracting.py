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
from domain.deal_messages import (
    REQUEST_SIGNATURE,
    SIGNATURE_DECISIONS,
    SIGNATURE_DECLINE_DECISIONS,
    EnvelopeRef,
    RequestSignatureInput,
    Signatory,
)
from domain.ids import partner_approval_id
from domain.lifecycle import SignatureEvent
from domain.partner import PartnerProfile
from domain.tasks import TaskKind
from workflows.deal.stops import Cancelled, Terminated
from workflows.deal.task_waits import TaskWaits


class Contracting(TaskWaits):
    """Select and approve a partner, then collect the contract signatures."""

    async def _select_partner(self) -> None:
        while True:
            while self._partner_index < len(self._partners):
                partner_id = self._partners[self._partner_index]
                self._partner_index += 1
                profile = await self._load_partner(partner_id)
                if profile is None:
                    continue
                result = await self._approve_partner(profile)
                if result is not None and result.outcome == "approved":
                    self._partner_id = partner_id
                    self._partner_contact = profile.contact_user
                    self._publish()
                    return
            local = f"partner-selection-{self._partner_index}"
            task = self._open(
                local,
                TaskKind.PARTNER_SELECTION,
                "No partner approved: add partner candidates",
                self._owners(),
                ["add_partners"],
            )
            tried = self._partner_index
            if await self._human_wait(task, lambda t=tried: len(self._partners) > t):
                raise Cancelled("no partner approved and none added in time")

    async def _approve_partner(self, profile: PartnerProfile) -> PartnerApprovalResult | None:
        child_id = partner_approval_id(self._req.deal_id, profile.partner_id)
        handle = await workflow.start_child_workflow(
            "PartnerApproval",
            PartnerApprovalInput(
                deal_id=self._req.deal_id,
                partner=profile,
                scope=self._plan.scope,
                requester=self._owners()[0],
                chain=self._req.partner_approval_chain,
                decision_sla=self._req.schedule.decision_sla,
            ),
            id=child_id,
            task_queue=workflow.info().task_queue,
            result_type=PartnerApprovalResult,
            static_summary=f"Partner approval of {profile.partner_id} for deal {self._req.deal_id}",
        )
        self._note("partner_approval_started", detail=child_id)
        await workflow.wait_condition(lambda: handle.done() or self._termination is not None)
        if not handle.done():
            await handle.signal(
                "withdraw",
                WithdrawInput(requested_by=self._termination_by(), reason="deal terminated"),
            )
            try:
                await workflow.wait_condition(handle.done, timeout=timedelta(minutes=5))
            except TimeoutError:
                handle.cancel()
            raise Terminated()
        try:
            result = handle.result()
        except ChildWorkflowError as err:
            self._note("partner_approval_failed", detail=f"{profile.partner_id}: {err.cause}")
            return None
        self._note(f"partner_{result.outcome}", detail=profile.partner_id)
        return result

    async def _collect_signatures(self) -> None:
        """Signature rounds until the contract is signed; a decline goes to the owner."""
        while True:
            event = await self._signature_round_once()
            if event.event == "completed":
                return
            by = event.by or "a signatory"
            if not workflow.patched("signature-decline-decision"):
                raise Cancelled(f"signature declined by {by}")
            await self._decide_after_decline(event, by)

    async def _signature_round_once(self) -> SignatureEvent:
        self._signature_round += 1
        local = f"signature-{self._signature_round}"
        ref = await self._activity(
            REQUEST_SIGNATURE,
            RequestSignatureInput(
                idempotency_key=self._task_id(local),
                deal_id=self._req.deal_id,
                workflow_id=workflow.info().workflow_id,
                title=self._req.title,
                partner_id=self._partner_id or "",
                plan_version=self._plan_version,
                signatories=[
                    Signatory(user=self._req.licensor_signatory, role="licensor"),
                    Signatory(user=self._partner_contact or "", role="licensee"),
                ],
            ),
            EnvelopeRef,
        )
        self._envelope_id = ref.envelope_id
        self._signature = None
        self._note("signature_requested", detail=f"{ref.provider}:{ref.envelope_id}")
        task = self._open(
            local,
            TaskKind.SIGNATURE,
            f"Sign the licensing contract of {self._req.title}",
            [self._req.licensor_signatory, self._partner_contact or ""],
            SIGNATURE_DECISIONS,
        )
        if await self._human_wait(task, lambda: self._signature is not None):
            raise Cancelled("signature not completed in time")
        event = self._signature
        assert event is not None
        outcome = "signed" if event.event == "completed" else "declined"
        self._board.close(task.task_id, outcome, by=event.by, detail=event.reason)
        self._publish()
        return event

    async def _decide_after_decline(self, event: SignatureEvent, by: str) -> None:
        """The owner decides `resend` (returns) or `cancel` (raises Cancelled)."""
        reason = event.reason or "no reason given"
        declined = f"signature declined by {by}: {reason}"
        task = self._open(
            f"signature-declined-{self._signature_round}",
            TaskKind.SIGNATURE_DECISION,
            f"Contract of {self._req.title}: {declined}. Resend or cancel?",
            self._owners(),
            SIGNATURE_DECLINE_DECISIONS,
        )
        self._board.note(task.task_id, "signature_declined", by=event.by, detail=reason)
        if await self._human_wait(task, lambda: task.task_id in self._decisions):
            self._board.close(task.task_id, "cancel", detail="default at timeout")
            raise Cancelled(f"{declined}; no decision in time")
        decision = self._take(task.task_id)
        if decision.decision == "cancel":
            comment = f" ({decision.comment})" if decision.comment else ""
            raise Cancelled(f"{declined}; cancelled by {decision.decided_by}{comment}")
        self._note("signature_resent", by=decision.decided_by, detail=decision.comment)
