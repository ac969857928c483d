"""The deal's grants in the rights ledger (patch `rights-ledger`, deals naming a property).

When the grants change (`domain.rights` has the rules, `store.grants` the table):

* plan approval: the plan's cells are **reserved** from the planned start (now, or
  `schedule.start`) to the end of a term launched as late as the signature may come, plus
  sell-off. A conflict turns the approval into a rejection naming the conflicting deal and
  cell: the approver's update answers 409 and the owner gets the revise task.
* before each contract envelope: reserved again, with the licensee and a fresh window; a
  conflict (someone took the cells meanwhile) parks the deal on an incident naming it.
* signature: **activated** with the real dates, launch to term end plus sell-off.
* amendment approval: the amended plan's cells are reserved beside the plan in force; a
  conflict rejects the amendment (409 to the approver, the plan in force stays). Applied:
  the deal holds the amended plan (new cells active, removed ones released, one
  transaction). Ended without effect: the cells it reserved are released.
* renewal: the grants are **extended** to the new term end (plus sell-off), within the
  property's availability, and so are an approved amendment's reserved cells awaiting its
  signature (patch `renewal-holds-amendment`); a conflict refuses the renewal (409) and
  reopens the task.
* termination or expiry: the grants end at the (cut) term end plus sell-off; when the deal
  ends (cancelled, terminated, completed after the sell-off and final accounting) they are
  **released**.

Every call makes the deal's rows exactly what it holds (idempotent); calls are serialised
(a lock), so an amendment's and the lifecycle's changes never cross in the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.amendments import PlanAmendment
from domain.deal import Plan
from domain.rights import (
    MAX_CELLS,
    Holding,
    RightsConflict,
    WindowPolicy,
    cell_count,
    reservation_window,
    term_end,
    with_sell_off,
)
from domain.rights_activity_io import HoldRightsInput, ReleaseRightsInput
from workflows.activity_options import STORE, call_or_park
from workflows.patches import RENEWAL_HOLDS_AMENDMENT, RIGHTS_LEDGER
from workflows.refusals import refuse

with workflow.unsafe.imports_passed_through():
    from activities.rights import RightsActivities

if TYPE_CHECKING:
    from workflows.deal.run import DealRun


class Rights:
    """The deal's side of the rights ledger."""

    def __init__(self, run: DealRun) -> None:
        self._run = run
        self.on = run.req.property_id is not None and workflow.patched(RIGHTS_LEDGER)
        """The deal keeps its grants in the ledger (asked once, when the run starts)."""
        self._refusals: dict[str, tuple[RightsConflict, str]] = {}
        self._lock = asyncio.Lock()
        self._released = False

    # ---- refusals answered by the update that decided ----------------------------------

    def refuse(self, task_id: str, conflict: RightsConflict, outcome: str) -> None:
        """The decision on `task_id` is refused by the ledger: its task closes as
        `rights_conflict` and its update (if one waits) fails with a 409 naming the conflict."""
        run = self._run
        self._refusals[task_id] = (conflict, outcome)
        if run.board.get(task_id) is not None:  # a decision carried across runs has no task
            run.board.close(task_id, "rights_conflict", detail=conflict.message())
        run.note("rights_refused", detail=f"{task_id}: {conflict.message()}")
        run.publisher.publish()

    def raise_refusal(self, task_id: str) -> None:
        """Raise the ledger's refusal of the decision on `task_id`, if it refused it."""
        found = self._refusals.pop(task_id, None)
        if found is None:
            return
        conflict, outcome = found
        raise ApplicationError(
            f"{conflict.message()}; {outcome}",
            {"rights_conflict": conflict.model_dump(mode="json")},
            type=errors.CONFLICT,
            non_retryable=True,
        )

    def check_plan(self, plan: Plan | None) -> None:
        """Update validators: a plan the ledger could never hold (too many cells) is refused
        before it is taken (422 naming `plan.scope`)."""
        if not self.on or plan is None:
            return
        cells = cell_count(plan.scope)
        if cells > MAX_CELLS:
            raise refuse(
                f"the scope holds {cells} cells (at most {MAX_CELLS})", errors.INVALID, "plan.scope"
            )

    # ---- before launch ---------------------------------------------------------------

    async def reserve(self, key: str, *, local: bool = False) -> RightsConflict | None:
        """Reserve the plan's cells until the contract is signed; the conflict, if any
        (`local`: as a local activity first, `activity_options.call_local`)."""
        run, state = self._run, self._run.state
        start, end = reservation_window(
            workflow.now(), run.req.schedule, state.term_periods, run.req.terms.sell_off
        )
        holding = Holding(scope=state.plan.scope, starts_at=start, ends_at=end, status="reserved")
        return await self._hold(key, [holding], "rights.reserve", local=local)

    async def reserve_for_signature(self, key: str) -> None:
        """Reserve again before an envelope goes out (licensee known, fresh window)."""
        await self._until_held(lambda: self.reserve(key))

    async def activate(self) -> None:
        """The contract is signed: the cells are granted from launch to the term end."""
        await self._until_held(
            lambda: self._hold("activate", [self._in_force()], "rights.activate")
        )

    # ---- after launch ------------------------------------------------------------------

    async def hold_amendment(self, amendment: PlanAmendment) -> RightsConflict | None:
        """An approved amendment reserves its plan's cells beside the plan in force."""
        return await self._hold(
            f"amendment-{amendment.number}-approved",
            [self._in_force(), self._amendment(amendment)],
            "rights.amend",
        )

    async def settle(self, key: str, *, since: datetime | None = None) -> None:
        """Hold what the deal holds now: the plan in force (cells new to it from `since`)
        and an approved amendment awaiting its signature, until the term (or wind-down) end."""
        await self._until_held(
            lambda: self._hold(key, [self._in_force(since), *self._held_amendment()], "rights.hold")
        )

    async def extend(self, key: str, term_periods: int) -> RightsConflict | None:
        """A renewal to `term_periods`: the grants to the new term end, within the property's
        availability; the conflict, if any (nothing changes then)."""
        pending = self._held_amendment()
        if pending and workflow.patched(RENEWAL_HOLDS_AMENDMENT):
            pending = self._held_amendment(term_periods)  # its cells to the new end too
        holdings = [self._in_force(term_periods=term_periods), *pending]
        return await self._hold(key, holdings, "rights.extend", window="contain")

    async def release(self, reason: str) -> None:
        """The deal ended: every grant is released (later calls change nothing)."""
        if not self.on:
            return
        run = self._run
        async with self._lock:
            if self._released:
                return
            workflow_id = workflow.info().workflow_id
            done = await call_or_park(
                RightsActivities.release_rights,
                ReleaseRightsInput(
                    key="release", deal_id=run.req.deal_id, workflow_id=workflow_id, reason=reason
                ),
                STORE,
                run.incidents.park,
            )
            self._released = True
        run.note("rights_released", detail=f"{done.released} cells: {reason}")

    # ---- helpers -----------------------------------------------------------------------

    def _end(self, term_periods: int | None = None) -> datetime:
        """Term end (or where the wind-down cut it) plus sell-off."""
        run, state = self._run, self._run.state
        if state.wind_down is not None:
            base = state.wind_down.at
        else:
            assert state.launched_at is not None
            base = term_end(state.launched_at, run.req.schedule, term_periods or state.term_periods)
        return with_sell_off(base, run.req.terms.sell_off)

    def _in_force(
        self, since: datetime | None = None, *, term_periods: int | None = None
    ) -> Holding:
        state = self._run.state
        assert state.launched_at is not None
        return Holding(
            scope=state.plan.scope,
            starts_at=since or state.launched_at,
            ends_at=self._end(term_periods),
            status="active",
        )

    def _held_amendment(self, term_periods: int | None = None) -> list[Holding]:
        """The pending amendment's cells while it is approved and awaits its signature, to
        the term end (of `term_periods`, when a renewal is asked)."""
        state = self._run.state
        amendment = state.amendment
        ending = state.termination is not None or state.wind_down is not None
        if amendment is None or amendment.status != "signature" or ending:
            return []
        if "scope" not in amendment.changes:
            return []
        return [self._amendment(amendment, term_periods)]

    def _amendment(self, amendment: PlanAmendment, term_periods: int | None = None) -> Holding:
        """The amended plan's cells, reserved from now to the term end."""
        return Holding(
            scope=amendment.plan.scope,
            starts_at=workflow.now(),
            ends_at=self._end(term_periods),
            status="reserved",
            plan_version=amendment.version,
        )

    async def _until_held(self, hold: Callable[[], Awaitable[RightsConflict | None]]) -> None:
        """Hold; while refused, park on an incident naming the conflict (ops `retry` once it
        is resolved, or `terminate`)."""
        while (conflict := await hold()) is not None:
            await self._run.incidents.hold("rights", conflict.message())

    async def _hold(
        self,
        key: str,
        holdings: list[Holding],
        action: str,
        *,
        window: WindowPolicy = "clip",
        local: bool = False,
    ) -> RightsConflict | None:
        if not self.on:
            return None
        run, state = self._run, self._run.state
        async with self._lock:
            if self._released:
                return None
            result = await call_or_park(
                RightsActivities.hold_rights,
                HoldRightsInput(
                    key=key,
                    deal_id=run.req.deal_id,
                    workflow_id=workflow.info().workflow_id,
                    property_id=run.req.property_id or "",
                    partner_id=state.partner_id,
                    plan_version=state.plan_version,
                    holdings=holdings,
                    window=window,
                    action=action,
                ),
                STORE,
                run.incidents.park,
                local=local,
            )
        if result.conflict is not None:
            run.note("rights_conflict", detail=f"{key}: {result.conflict.message()}")
            return result.conflict
        run.note(action.replace(".", "_"), detail=f"{key}: {result.cells} cells")
        if result.clipped:
            run.note(
                "rights_clipped",
                detail=f"{key}: {result.clipped} cells end with the property's availability",
            )
        return None
