"""What one deal-period costs in history events, read from a sampled workflow history:
the events after the period's timer started, their kinds, the activities (task-queue and
local) and timers after the boundary (the step script the bare equivalent replays, always
with task-queue activities) and which worker ran them."""

from __future__ import annotations

import asyncio
import collections
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

NAMES = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search-attribute upserts",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: "memo/properties",
}


MARKERS = {"core_local_activity": "local activities", "core_patch": "patch markers"}
READ_MODEL_WRITES = {"write_deal_read_model", "write_approval_read_model"}
"""Local activities left out of the bare script: its `statement` step moves its read-model
row in the same transaction, as these writes do."""


@dataclass
class PeriodEvents:
    """One sampled deal-period: its events (after the period-1 timer started)."""

    events: int
    kinds: dict[str, float]
    activity_types: list[str]
    script: tuple[tuple[str, float], ...]
    """The steps after the boundary: (activity type, 0) or ("timer", seconds after it)."""
    identities: collections.Counter[str]


def period_events(history: list[HistoryEvent], boundary: datetime, grace: float) -> PeriodEvents:
    fires = _timer_fire_times(history)
    start = min(
        (i for i, moment in fires.items() if abs((moment - boundary).total_seconds()) < 2),
        default=None,
    )
    if start is None:
        raise RuntimeError(f"no timer to the boundary {boundary} in a sampled history")
    window = history[start + 1 :]
    kinds: collections.Counter[str] = collections.Counter()
    identities: collections.Counter[str] = collections.Counter()
    script: list[tuple[str, float]] = []
    types: list[str] = []
    for index, event in enumerate(window, start=start + 1):
        if name := NAMES.get(event.event_type):
            kinds[name] += 1
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes.marker_name
            kinds[MARKERS.get(marker, f"markers ({marker})")] += 1
            local = _local_activity_type(event) if marker == "core_local_activity" else None
            if local is not None and local not in READ_MODEL_WRITES:
                types.append(f"{local} (local)")
                script.append((local, 0.0))
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            identities["wft:" + event.workflow_task_started_event_attributes.identity] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            identities["act:" + event.activity_task_started_event_attributes.identity] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            kind = event.activity_task_scheduled_event_attributes.activity_type.name
            types.append(kind)
            script.append((kind, 0.0))
        if index in fires:
            until = (fires[index] - boundary).total_seconds()
            if until <= grace + 60:  # a later timer is the next period's
                script.append(("timer", round(until, 1)))
    return PeriodEvents(len(window), dict(kinds), types, tuple(script), identities)


def _local_activity_type(event: HistoryEvent) -> str | None:
    """The activity type in a local-activity marker's `data` (core's own JSON, never sealed)."""
    data = event.marker_recorded_event_attributes.details.get("data")
    if data is None or not data.payloads:
        return None
    kind = json.loads(data.payloads[0].data).get("activity_type")
    return kind if isinstance(kind, str) else None


def _timer_fire_times(history: list[HistoryEvent]) -> dict[int, datetime]:
    """When each started timer fires (by event index): the workflow's clock is the start
    of the workflow task that started it, not the time its command was recorded."""
    fires, clock = {}, None
    for index, event in enumerate(history):
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            clock = event.event_time.ToDatetime(tzinfo=UTC)
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and clock is not None:
            timeout = event.timer_started_event_attributes.start_to_fire_timeout
            fires[index] = clock + timeout.ToTimedelta()
    return fires


async def sample_histories(
    client: Client, workflow_ids: list[str], boundary: datetime, grace: float
) -> list[PeriodEvents]:
    found: list[PeriodEvents] = []

    async def one(workflow_id: str) -> None:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        found.append(period_events(list(history.events), boundary, grace))

    gate = asyncio.Semaphore(8)

    async def gated(workflow_id: str) -> None:
        async with gate:
            await one(workflow_id)

    await asyncio.gather(*(gated(w) for w in workflow_ids))
    return found
