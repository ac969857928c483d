"""Small state helpers of the deal workflow: owners, task ids, history notes, decisions."""

from __future__ import annotations

from temporalio import workflow

from domain.deal_messages import TERMINAL_STAGES
from domain.lifecycle import HistoryEntry, TaskDecisionInput
from workflows.deal.carry import HISTORY_IN_MEMORY, DealFields
from workflows.deal.stops import Terminated


class DealBookkeeping(DealFields):
    """Derived values and history bookkeeping over the deal fields."""

    def _owners(self) -> list[str]:
        return [self._req.owner] if self._req.owner else list(self._req.plan_approvers)

    def _termination_by(self) -> str:
        return self._termination.requested_by if self._termination else self._owners()[0]

    def _task_id(self, local: str) -> str:
        return f"{workflow.info().workflow_id}:{local}"

    def _full_task_id(self, task_id: str) -> str:
        prefix = f"{workflow.info().workflow_id}:"
        return task_id if task_id.startswith(prefix) else prefix + task_id

    def _note(self, event: str, *, by: str | None = None, detail: str | None = None) -> None:
        self._history.append(HistoryEntry(at=workflow.now(), event=event, by=by, detail=detail))
        del self._history[:-HISTORY_IN_MEMORY]

    def _raise_if_terminating(self) -> None:
        if self._termination is not None:
            raise Terminated()

    def _take(self, task_id: str) -> TaskDecisionInput:
        self._acked.add(task_id)
        return self._decisions[task_id]

    def _is_final(self) -> bool:
        return self._stage in TERMINAL_STAGES
