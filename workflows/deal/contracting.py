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
* The approval child's id is `partner-approval:<deal>:<partner>` (unique per pair; children
  started before the `partner-approval-v2` patch keep `partner-approval-<deal>-<partner>`).
  Its input names the users conflicted with the partner (the owner and every user bound to
  the partner in the users directory), who may not decide nor be delegated a step.
* A child start refused because a running workflow holds the id (a stray approval of an
  earlier attempt, a hand-started workflow, a legacy id shared with another deal) never
  fails the deal: it parks on an incident for ops (`DealHealth=blocked`, the id named);
  `retry` starts the child again once that workflow is ended, `terminate` ends the deal.
  The partner is not skipped: it is still the owner's candidate and the conflict is not
  about it.
* Rights ledger (patch `rights-ledger`, deals naming a property): before each envelope the
  plan's cells are reserved again for the licensee with a fresh window (a conflict parks the
  deal on an incident naming the conflicting deal and cell); at signature they are
  activated from launch to the term end plus sell-off.
* Separation of duties (runs since the `separation-of-duties` patch): before each envelope,
  the licensor signatory is checked against the partner's users (and the partner contact)
  and the owner (unless `owner_may_sign`); a conflicted signatory gets no envelope: the deal
  parks on an incident naming the conflict (`retry` after the users directory is fixed,
  or `terminate`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

from domain.approval import PartnerApprovalInput, PartnerApprovalResult
from domain.approval_messages import WithdrawInput
from domain.deal_messages import (
    ADD_PARTNERS,
    SIGNATURE_DECLINE_DECISIONS,
    SignatureEvent,
)
from domain.deal_state import Stage
from domain.ids import legacy_partner_approval_id, partner_approval_id
from domain.partner import PartnerProfile
from domain.tasks import TaskKind
from workflows.deal.run import DealRun
from workflows.deal.signing import Signing
from workflows.deal.stops import Cancelled, Terminated
from workflows.partner_approval import PartnerApprovalWorkflow
from workflows.patches import (
    PARTNER_APPROVAL_START_CONFLICT,
    PARTNER_APPROVAL_V2,
    SEPARATION_OF_DUTIES,
    SIGNATURE_DECLINE_DECISION,
)

ApprovalHandle = workflow.ChildWorkflowHandle[PartnerApprovalWorkflow, PartnerApprovalResult]


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
            await run.rights.activate()
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
        deal_id, partner_id = run.req.deal_id, profile.partner_id
        if workflow.patched(PARTNER_APPROVAL_V2):
            child_id = partner_approval_id(deal_id, partner_id)
            conflicted = await self._conflicted(profile)
        else:  # the child id of approvals started before the patch (part of the command)
            child_id, conflicted = legacy_partner_approval_id(deal_id, partner_id), []
        handle = await self._start_approval(
            child_id,
            PartnerApprovalInput(
                deal_id=deal_id,
                partner=profile,
                scope=state.plan.scope,
                requester=run.owners()[0],
                chain=run.req.partner_approval_chain,
                decision_sla=run.req.schedule.decision_sla,
                conflicted=conflicted,
            ),
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

    async def _conflicted(self, profile: PartnerProfile) -> list[str]:
        """Who may not decide on this partner's approval: the owner, the partner's contact
        and every user bound to the partner in the users directory."""
        run = self._run
        users = await run.calls.partner_users(profile.partner_id)
        owner = [run.req.owner] if run.req.owner else []
        return sorted({*owner, profile.contact_user, *users})

    async def _start_approval(self, child_id: str, params: PartnerApprovalInput) -> ApprovalHandle:
        """Start the approval child; while its id is held by a running workflow, park the
        deal on an incident (ops end that workflow and `retry`, or `terminate`)."""
        run = self._run
        while True:
            try:
                return await workflow.start_child_workflow(
                    PartnerApprovalWorkflow.run,
                    params,
                    id=child_id,
                    task_queue=workflow.info().task_queue,
                    static_summary=(
                        f"Partner approval of {params.partner.partner_id} for deal {params.deal_id}"
                    ),
                )
            except WorkflowAlreadyStartedError:
                if not workflow.patched(PARTNER_APPROVAL_START_CONFLICT):
                    raise  # runs before the patch failed here; their histories replay so
                run.note("partner_approval_start_refused", detail=child_id)
                await run.incidents.hold(
                    "partner_approval",
                    f"{params.partner.partner_id}: workflow id {child_id} is held by a running"
                    " workflow; end it, then retry (or terminate the deal)",
                )

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
        await check_signatory(run)
        state.signature_round += 1
        await run.rights.reserve_for_signature(f"signature-{state.signature_round}")
        signing = Signing(run)
        task = await signing.request(
            f"signature-{state.signature_round}",
            title=run.req.title,
            task_title=f"Sign the licensing contract of {run.req.title}",
            plan_version=state.plan_version,
        )
        event = await signing.settle(task)
        if event is None:
            raise Cancelled("signature not completed in time")
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


async def check_signatory(run: DealRun) -> None:
    """Separation of duties before the contract's envelope goes out (runs since the
    `separation-of-duties` patch; the rule is `Signing.check_signatory`)."""
    # asked when the run started (`DealDecisions`); patch results are memoized per run
    if not workflow.patched(SEPARATION_OF_DUTIES):
        return
    await Signing(run).check_signatory()
