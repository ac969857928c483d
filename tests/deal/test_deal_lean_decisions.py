"""The plan approval's short path (patch `lean-calls`): a new deal is put in the read
model by its run's writer alone (no sync activity before the needs analysis, one
`deal.create` audit row), and the approver's `decide` reserves the plan's cells as a local
activity, so the update is answered in the workflow task that took it, with the deal in
implementation, its cells held and the read model written."""

from __future__ import annotations

import asyncpg
from deal_helpers import (
    PLAN_APPROVERS,
    decide_update,
    latest,
    open_task,
    start_deal,
    wait_state,
)
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.testing import WorkflowEnvironment
from test_deal_rights import PROPERTY, exclusive, held, ledger_deal, seed_property

from domain.deal_state import Stage
from store import audit, read_model


def scheduled(events: list[HistoryEvent]) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


async def test_plan_approval_answers_in_the_workflow_task_that_took_it(
    dev_worker: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    client = dev_worker.client
    await seed_property(pool)
    request = ledger_deal("acme", exclusive("DE"))
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    started = (await latest(client, deal_id).fetch_history()).events
    assert "sync_deal_read_model" not in scheduled(started)
    creations = [r for r in await audit.for_deal(pool, deal_id) if r["action"] == "deal.create"]
    assert len(creations) == 1
    assert (await read_model.deal_access_row(pool, deal_id)) is not None

    state = await decide_update(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    assert state.stage is Stage.IMPLEMENTATION
    assert set(await held(pool, deal_id)) == {"DE"}
    document = await read_model.deal_document(pool, deal_id)
    assert document is not None and document["stage"] == Stage.IMPLEMENTATION.value
    events = (await latest(client, deal_id).fetch_history()).events
    kinds = [e.event_type for e in events]
    accepted = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    completed = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
    between = kinds[accepted:completed]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in between  # one workflow task
    assert "hold_rights" not in scheduled(events)  # reserved as a local activity
    assert PROPERTY in {r["property_id"] for r in (await held(pool, deal_id)).values()}
