"""LicensingDeal: one durable workflow per deal, from needs analysis to the end of the term.

The workflow class lives here (the API, the worker registry and the tests import it from
this module); its behaviour is composed from the mixins of `workflows.deal`:

* `lifecycle` - the stages and their order; `contracting` - partner approval and signing;
* `periods` - reporting periods, corrections, statements; `maintenance` - reviews, renewal,
  continue-as-new; `endings` - termination, completion, cancellation;
* `handlers` - updates/signals from people; `event_signals` - e-signature and sales reports;
* `publishing` - search attributes, current details, the `state` query; `task_waits`,
  `activity_calls`, `bookkeeping`, `carry` and `stops` - shared plumbing.

Business rules are documented in the module that applies them.
"""

from __future__ import annotations

from temporalio import workflow

from domain.deal_messages import DealOutcome, DealRunInput
from domain.lifecycle import Stage
from workflows.deal.event_signals import EventSignals
from workflows.deal.handlers import HumanUpdates
from workflows.deal.lifecycle import Lifecycle
from workflows.deal.stops import Cancelled, Terminated

__all__ = ["LicensingDealWorkflow"]


@workflow.defn(name="LicensingDeal")
class LicensingDealWorkflow(Lifecycle, HumanUpdates, EventSignals):
    """The whole lifecycle of one licensing deal (workflow id `deal-<deal_id>`)."""

    @workflow.init
    def __init__(self, params: DealRunInput) -> None:
        self._restore(params)

    @workflow.run
    async def run(self, params: DealRunInput) -> DealOutcome:
        self._publish()
        try:
            if self._stage is Stage.NEEDS_ANALYSIS:
                await self._needs_analysis()
            if self._stage is Stage.PLANNING:
                await self._planning()
            if self._stage is Stage.IMPLEMENTATION:
                await self._implementation()
            if self._stage in (Stage.MONITORING, Stage.MAINTENANCE):
                await self._operate()
        except Terminated:
            await self._terminate()
        except Cancelled as stop:
            await self._finish(Stage.CANCELLED, stop.reason)
        return DealOutcome(
            deal_id=self._req.deal_id,
            stage=self._stage,
            reason=self._reason,
            partner_id=self._partner_id,
            plan_version=self._plan_version,
            contract_year=self._contract_year(),
            years=self._years,
        )
