"""Plan amendments of a signed deal (patch `amendment-approval`).

Rules:

* `amend` on a review task proposes the plan as amendment `<n>` (the next plan version);
  the review ends there and monitoring goes on under the plan in force: periods, reports,
  statements and the next reviews are not held up by the amendment, which runs beside them.
* Plan approval: a `plan_approval` task `amendment-<n>` for the plan approvers (the owners
  are left out when another approver is named; `decide` refuses an owner anyway). `reject`
  (with a comment) keeps the plan in force.
* On approval, a change of what the licensee signed (licensed scope or KPIs) needs an
  amendment envelope signed by the licensee and the licensor signatory (`signing`, task
  `amendment-<n>-signature`; the signatory is checked for separation of duties first, as
  for the contract); a promotion-only change takes effect at once. A declined envelope
  keeps the plan in force.
* Every wait has the decision SLA's reminder, escalation and expiry (`task_waits`); an
  expired wait keeps the plan in force.
* The new plan version takes effect when approved (and signed): the sales checks from then
  on use its scope and KPIs. The owner is told how every amendment ended, the licensee
  when one it signed took effect.
* A later review's `amend` supersedes a pending amendment (its tasks close as
  `superseded`, a late event on its envelope is ignored). A termination or the end of the
  term withdraws it.
* A pending amendment is carried across continue-as-new and resumed by the next run,
  with a decision or envelope event that arrived as the run ended.
* Rights ledger (patch `rights-ledger`, deals naming a property): an approval of a scope
  change reserves the amended plan's cells beside the plan in force; a conflict with another
  deal's grant rejects the amendment (the approver's update answers 409 naming the deal and
  cell; the plan in force stays). Applied, the deal holds the amended plan (new cells
  active, removed ones released, in one transaction); ended otherwise, the cells it
  reserved are released.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import workflow

from domain.amendments import AmendmentStatus, PlanAmendment, needs_signature, plan_changes
from domain.deal import Plan
from domain.deal_messages import PLAN_DECISIONS, TaskDecisionInput
from domain.tasks import TaskKind
from workflows.deal.run import DealRun
from workflows.deal.signing import Signing
from workflows.deal.stops import Terminated


class Amendments:
    """Propose, approve, sign and apply plan amendments beside monitoring."""

    def __init__(self, run: DealRun) -> None:
        self._run = run
        self._signing = Signing(run)
        self._running: set[asyncio.Task[None]] = set()
        self._busy = 0
        """Activity calls of amendments under way (continue-as-new waits for none)."""
        self._holding: set[int] = set()
        """Amendments whose cells are reserved in the rights ledger (approved, not applied)."""

    # ---- entry points ----------------------------------------------------------------

    def propose(self, plan: Plan, by: str, period: int) -> None:
        """Amendment `<n>` from a review's `amend`; supersedes a pending one."""
        run, state = self._run, self._run.state
        previous = state.amendment
        number = previous.number + 1 if previous is not None else 1
        if previous is not None and previous.pending:
            self._end(previous, "superseded", f"superseded by amendment {number}")
        changes = plan_changes(state.plan, plan)
        state.amendment = PlanAmendment(
            number=number,
            plan=plan,
            version=state.plan_version + 1,
            proposed_by=by,
            proposed_at=workflow.now(),
            review_period=period,
            needs_signature=needs_signature(changes),
            changes=changes,
        )
        run.note(
            "amendment_proposed",
            by=by,
            detail=f"amendment {number}: plan v{state.plan_version + 1}"
            f" ({', '.join(changes) or 'no change'})",
        )
        self._start(number)

    def resume(self) -> None:
        """A continued run picks up the pending amendment it carries."""
        amendment = self._run.state.amendment
        if amendment is not None and amendment.pending:
            self._run.note("amendment_resumed", detail=f"amendment {amendment.number}")
            self._start(amendment.number)

    def quiet(self) -> bool:
        """No amendment is in the middle of an activity call (its next step is a wait)."""
        return self._busy == 0

    def before_continue_as_new(self) -> None:
        """Carry what arrived for the pending amendment but was not yet taken: the run-only
        `decisions` and `signature` are not carried."""
        run, state = self._run, self._run.state
        amendment = state.amendment
        if amendment is None or not amendment.pending:
            return
        decision = state.decisions.get(run.task_id(amendment.approval_task))
        if amendment.status == "approval" and decision is not None:
            state.amendment = amendment.model_copy(update={"decision": decision})
        event = state.signature
        if (
            amendment.status == "signature"
            and event is not None
            and event.envelope_id == amendment.envelope_id
            and event.event != "voided"
        ):
            state.amendment = amendment.model_copy(update={"signature": event})

    # ---- the amendment's course --------------------------------------------------------

    def _start(self, number: int) -> None:
        task = asyncio.create_task(self._drive(number))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _drive(self, number: int) -> None:
        carried = self._current(number, "signature")
        if carried is not None and self._moves_rights(carried):
            self._holding.add(number)  # approved in an earlier run: its cells are reserved
        try:
            if self._current(number, "approval") is None or await self._approve(number):
                if self._current(number, "signature") is not None:
                    await self._sign(number)
        except Terminated:
            # the deal is terminated (or an incident on the way was decided `terminate`):
            # the lifecycle ends it (and its grants); the amendment is withdrawn with it
            self._holding.discard(number)
            amendment = self._current(number)
            if amendment is not None:
                self._end(amendment, "withdrawn", "the deal was terminated")
            return
        if number in self._holding:  # ended without effect: give its reserved cells back
            self._holding.discard(number)
            async with self._calling():
                await self._run.rights.settle(f"amendment-{number}-ended")

    async def _approve(self, number: int) -> bool:
        """True when approved and an envelope is to be signed."""
        run, state = self._run, self._run.state
        amendment = self._current(number)
        assert amendment is not None
        task_id = run.task_id(amendment.approval_task)
        decision = amendment.decision
        if decision is None:
            task = run.board.get(task_id)
            if task is None or task.closed_at is not None:
                task = run.waits.open(
                    amendment.approval_task,
                    TaskKind.PLAN_APPROVAL,
                    f"Approve amendment {number} of {run.req.title}: plan v{amendment.version}"
                    f" ({', '.join(amendment.changes) or 'no change'})",
                    self._approvers(),
                    PLAN_DECISIONS,
                    version=amendment.version,
                )
            expired = await run.waits.wait(
                task, lambda: task_id in state.decisions or self._stopped(number)
            )
            if self._stopped(number):
                self._withdraw_if_ending(number)
                return False
            if expired:
                run.board.close(task_id, "expired", detail="no decision in time")
                await self._finish(number, "expired", "not approved in time")
                return False
            decision = state.decisions[task_id]  # taken once the rights ledger had its say
        refused = await self._rights_refused(number, task_id, decision)
        state.decisions.pop(task_id, None)
        if self._current(number) is None:  # superseded while the ledger was asked
            return False
        self._set(number, decision=None)
        if refused is not None:
            await self._finish(number, "rejected", refused)
            return False
        if decision.decision != "approve":
            await self._finish(number, "rejected", decision.comment, by=decision.decided_by)
            return False
        run.note(
            "amendment_approved",
            by=decision.decided_by,
            detail=f"amendment {number}: plan v{amendment.version}",
        )
        if not amendment.needs_signature:
            await self._apply(number, decision.decided_by)
            return False
        self._set(number, status="signature", approved_by=decision.decided_by)
        run.publisher.publish()
        return True

    async def _sign(self, number: int) -> None:
        run, state = self._run, self._run.state
        amendment = self._current(number)
        assert amendment is not None
        event = amendment.signature
        if event is None:
            task = run.board.get(run.task_id(amendment.signature_task))
            current = amendment.envelope_id is not None and state.envelope_id == (
                amendment.envelope_id
            )
            if task is None or task.closed_at is not None or not current:
                async with self._calling():
                    await self._signing.check_signatory()
                    task = await self._signing.request(
                        amendment.signature_task,
                        title=f"{run.req.title}: amendment {number}",
                        task_title=f"Sign amendment {number} of {run.req.title}"
                        f" (plan v{amendment.version}: {', '.join(amendment.changes)})",
                        plan_version=amendment.version,
                        document={
                            "kind": "amendment",
                            "amendment": number,
                            "amends_version": amendment.version - 1,
                            "changes": amendment.changes,
                            "plan": amendment.plan.model_dump(mode="json"),
                        },
                        scope=amendment.plan.scope,
                    )
                if self._current(number) is None:  # superseded or ended meanwhile
                    run.board.close(task.task_id, "withdrawn", detail="amendment ended")
                    self._signing.void(state.envelope_id, "amendment ended")
                    self._withdraw_if_ending(number)
                    return
                self._set(number, envelope_id=state.envelope_id)
            event = await self._signing.settle(task, stop=lambda: self._stopped(number))
            if self._stopped(number):
                self._withdraw_if_ending(number)
                return
            if event is None:
                run.board.close(task.task_id, "expired", detail="not signed in time")
                self._signing.void(state.envelope_id, "expired")
                await self._finish(number, "expired", "not signed in time")
                return
        self._set(number, signature=None)
        task_id = run.task_id(amendment.signature_task)
        carried = run.board.get(task_id)
        if carried is not None and carried.closed_at is None:  # the event came with the carry
            self._signing.close(task_id, event)
        if event.event != "completed":
            await self._finish(number, "declined", event.reason, by=event.by)
            return
        await self._apply(number, event.by)

    async def _apply(self, number: int, by: str | None) -> None:
        """The amendment takes effect: the plan in force is its version from now on."""
        run, state = self._run, self._run.state
        amendment = self._current(number)
        assert amendment is not None
        state.plan = amendment.plan
        state.plan_version += 1
        self._set(number, status="applied", version=state.plan_version, reason=None)
        run.note(
            "plan_amended",
            by=amendment.proposed_by,
            detail=f"plan v{state.plan_version} (amendment {number})",
        )
        run.publisher.publish()
        if self._moves_rights(amendment):  # the ledger holds the amended plan from now on
            self._holding.discard(number)
            async with self._calling():
                await run.rights.settle(f"amendment-{number}-applied", since=workflow.now())
        await self._tell_owner(number, "applied", f"plan v{state.plan_version} is in force")
        if amendment.needs_signature and state.partner_contact:
            async with self._calling():
                await run.calls.notify(
                    state.partner_contact,
                    "amendment_applied",
                    f"Amendment {number} of {run.req.title} is signed: plan"
                    f" v{state.plan_version} applies from now on",
                    f"amendment-{number}",
                )

    async def _finish(
        self, number: int, status: AmendmentStatus, reason: str | None, *, by: str | None = None
    ) -> None:
        """It ended without effect: the plan in force stays."""
        amendment = self._current(number)
        assert amendment is not None
        self._end(amendment, status, reason, by=by)
        await self._tell_owner(number, status, reason or status)

    # ---- rights ledger -----------------------------------------------------------------

    def _moves_rights(self, amendment: PlanAmendment) -> bool:
        """The amendment changes what the deal holds in the rights ledger."""
        return self._run.rights.on and "scope" in amendment.changes

    async def _rights_refused(
        self, number: int, task_id: str, decision: TaskDecisionInput
    ) -> str | None:
        """An approval of a scope change reserves the amended cells first; the conflict's
        message when the ledger refuses (its update answers 409), else None."""
        run = self._run
        amendment = self._current(number)
        if decision.decision != "approve" or amendment is None:
            return None
        if not self._moves_rights(amendment):
            return None
        async with self._calling():
            conflict = await run.rights.hold_amendment(amendment)
        if conflict is None:
            self._holding.add(number)
            return None
        run.rights.refuse(
            task_id,
            conflict,
            f"amendment {number} is rejected; plan v{run.state.plan_version} stays in force",
        )
        return conflict.message()

    # ---- helpers -----------------------------------------------------------------------

    @asynccontextmanager
    async def _calling(self) -> AsyncIterator[None]:
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    def _approvers(self) -> list[str]:
        """The plan approvers but the owners (separation of duties), when any remain."""
        req = self._run.req
        others = [u for u in req.plan_approvers if u not in req.owners()]
        return others or list(req.plan_approvers)

    def _current(self, number: int, status: AmendmentStatus | None = None) -> PlanAmendment | None:
        """Amendment `number` while it is the pending one (in `status`, when given)."""
        amendment = self._run.state.amendment
        if amendment is None or amendment.number != number or not amendment.pending:
            return None
        return amendment if status is None or amendment.status == status else None

    def _stopped(self, number: int) -> bool:
        """Superseded, ended, or the deal is ending (terminated, expired, final)."""
        return self._current(number) is None or self._deal_ending()

    def _deal_ending(self) -> bool:
        state = self._run.state
        return state.termination is not None or state.wind_down is not None or state.is_final()

    def _withdraw_if_ending(self, number: int) -> None:
        amendment = self._current(number)
        if amendment is not None and self._deal_ending():
            self._end(amendment, "withdrawn", "the deal is ending")

    def _set(self, number: int, **update: object) -> None:
        amendment = self._run.state.amendment
        assert amendment is not None and amendment.number == number
        self._run.state.amendment = amendment.model_copy(update=update)

    def _end(
        self,
        amendment: PlanAmendment,
        status: AmendmentStatus,
        reason: str | None,
        *,
        by: str | None = None,
    ) -> None:
        """Settle `amendment` as `status`: its open tasks close, its envelope is void, an
        applied-but-untaken decision on it is dropped (its update answers)."""
        run, state = self._run, self._run.state
        for local in (amendment.approval_task, amendment.signature_task):
            task_id = run.task_id(local)
            task = run.board.get(task_id)
            if task is not None and task.closed_at is None:
                run.board.close(task_id, status, detail=reason)
            state.decisions.pop(task_id, None)
        if amendment.status == "signature":
            self._signing.void(amendment.envelope_id, status)
        state.amendment = amendment.model_copy(
            update={"status": status, "reason": reason, "decision": None, "signature": None}
        )
        run.note(
            f"amendment_{status}",
            by=by,
            detail=f"amendment {amendment.number}: {reason or status}; plan v{state.plan_version}"
            " stays in force",
        )
        run.publisher.publish()

    async def _tell_owner(self, number: int, outcome: str, detail: str) -> None:
        run = self._run
        async with self._calling():
            await run.calls.notify(
                run.owners()[0],
                f"amendment_{outcome}",
                f"Amendment {number} of {run.req.title}: {outcome} ({detail})",
                f"amendment-{number}",
            )
