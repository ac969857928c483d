"""One signature envelope for the deal: request it from the signing provider, open its
signature task for the licensor signatory and the licensee, and wait for the provider's
settling event (`signature_completed` / `signature_declined`, `workflows.deal.events`).

Shared by the contract (`contracting`, rounds `signature-<n>`) and plan amendments
(`amendments`, `amendment-<n>-signature`). The envelope's idempotency key is its task id, so
the API finds the envelope of a signature task (`store.envelopes.for_task`) and a repeated
request returns the same envelope. The deal has one current envelope (`state.envelope_id`):
only its first settling event counts. Before an envelope goes out, `check_signatory` applies
separation of duties to the licensor signatory (a conflict parks the deal on an incident).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

from domain.approval_rules import signatory_refusal
from domain.common import LicensedScope
from domain.deal_activity_io import RequestSignatureInput, Signatory
from domain.deal_messages import SIGNATURE_DECISIONS, SignatureEvent
from domain.tasks import Task, TaskKind
from workflows.deal.run import DealRun


class Signing:
    """Envelopes of one deal run."""

    def __init__(self, run: DealRun) -> None:
        self._run = run

    def signatories(self) -> list[Signatory]:
        """The licensor signatory, then the partner's contact (the licensee)."""
        run, state = self._run, self._run.state
        return [
            Signatory(user=run.req.licensor_signatory, role="licensor"),
            Signatory(user=state.partner_contact or "", role="licensee"),
        ]

    async def check_signatory(self) -> None:
        """Separation of duties: the licensor signatory is neither a user of the partner
        (nor its contact) nor the owner (unless `owner_may_sign`); a conflict parks the deal
        until ops `retry` (after fixing the users directory) or `terminate`."""
        run, state = self._run, self._run.state
        signatory, partner_id = run.req.licensor_signatory, state.partner_id or ""
        while True:
            users = await run.calls.partner_users(partner_id)
            contact = [state.partner_contact] if state.partner_contact else []
            refusal = signatory_refusal(
                signatory,
                owner=run.req.owner,
                owner_may_sign=run.req.owner_may_sign,
                partner_id=partner_id,
                partner_users=[*users, *contact],
            )
            if refusal is None:
                return
            run.note("signatory_refused", by=signatory, detail=refusal.message)
            await run.incidents.hold("licensor_signatory", refusal.message)

    async def request(
        self,
        local: str,
        *,
        title: str,
        task_title: str,
        plan_version: int,
        document: dict[str, Any] | None = None,
        scope: LicensedScope | None = None,
    ) -> Task:
        """Ask the provider for the envelope `local` names (idempotent), make it the current
        envelope and open its signature task. The envelope carries the deal's terms and the
        licensed scope (`scope`, else the plan's in force) for the signatories to sign."""
        run, state = self._run, self._run.state
        ref = await run.calls.request_signature(
            RequestSignatureInput(
                idempotency_key=run.task_id(local),
                deal_id=run.req.deal_id,
                workflow_id=workflow.info().workflow_id,
                title=title,
                partner_id=state.partner_id or "",
                plan_version=plan_version,
                signatories=self.signatories(),
                document=document or {},
                terms=run.req.terms,
                scope=scope or state.plan.scope,
                contract_years=state.term_periods // run.req.schedule.periods_per_year,
            )
        )
        state.envelope_id = ref.envelope_id
        state.signature = None
        run.note("signature_requested", detail=f"{ref.provider}:{ref.envelope_id}")
        return run.waits.open(
            local,
            TaskKind.SIGNATURE,
            task_title,
            [s.user for s in self.signatories()],
            SIGNATURE_DECISIONS,
        )

    async def settle(
        self, task: Task, *, stop: Callable[[], bool] = lambda: False
    ) -> SignatureEvent | None:
        """Wait (reminder, escalation, expiry) for the current envelope's settling event and
        close the task with it; None when the wait expired or `stop()` came first (the task
        then stays open for the caller)."""
        run, state = self._run, self._run.state
        expired = await run.waits.wait(task, lambda: state.signature is not None or stop())
        event = state.signature
        if expired or event is None:
            return None
        self.close(task.task_id, event)
        return event

    def close(self, task_id: str, event: SignatureEvent) -> None:
        """Close a signature task with its envelope's settling event (signed or declined)."""
        outcome = "signed" if event.event == "completed" else "declined"
        self._run.board.close(task_id, outcome, by=event.by, detail=event.reason)
        self._run.publisher.publish()

    def void(self, envelope_id: str | None, reason: str) -> None:
        """Stop waiting on `envelope_id`: a later event for it is ignored (noted)."""
        state = self._run.state
        if envelope_id is not None and state.envelope_id == envelope_id and state.signature is None:
            state.signature = SignatureEvent(
                envelope_id=envelope_id, event="voided", at=workflow.now(), reason=reason
            )
