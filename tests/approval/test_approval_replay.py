"""Recorded PartnerApproval histories still replay: a non-deterministic change fails here.

Re-record with `LICENSEFLOW_RECORD_HISTORIES=1 pytest tests/approval` after an intended,
versioned change (the recording tests write tests/histories/partner_approval_*.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from workflow_helpers import HISTORIES, load_history, replayer

from domain.activity_io import AuditEntry
from domain.approval import PartnerApprovalInput
from domain.ids import LEGACY_APPROVAL_ID_PREFIX, is_partner_approval_id, partner_approval_id
from licenseflow.converter import data_converter
from workflows.partner_approval import PartnerApprovalWorkflow

RECORDED = sorted(HISTORIES.glob("partner_approval_*.json"))


def test_histories_are_committed() -> None:
    names = {p.stem for p in RECORDED}
    assert {
        "partner_approval_approved",
        "partner_approval_escalated",
        "partner_approval_revision",
    } <= names


async def load(path: Path) -> WorkflowHistory:
    """The history under its original workflow id (task ids embed it, so replay needs it):
    the id its audit rows name (histories recorded before the `partner-approval-v2` patch
    have the legacy id), else the id a new approval gets. Payloads are decrypted with the
    test ring by `data_converter`, as the worker does."""
    events = load_history(path.stem).events
    started = events[0].workflow_execution_started_event_attributes
    [params] = await data_converter.decode(started.input.payloads, [PartnerApprovalInput])
    workflow_id = await recorded_workflow_id(events) or partner_approval_id(
        params.deal_id, params.partner.partner_id
    )
    return WorkflowHistory(workflow_id=workflow_id, events=events)


async def recorded_workflow_id(events: Sequence[HistoryEvent]) -> str | None:
    """The `workflow_id` of the first audit row the history scheduled."""
    for event in events:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name != "record_audit":
            continue
        [entry] = await data_converter.decode(scheduled.input.payloads, [AuditEntry])
        return str(entry.workflow_id)
    return None


async def test_recorded_histories_replay_under_their_own_workflow_id() -> None:
    """Histories recorded before the `partner-approval-v2` patch have the legacy id."""
    ids = [await recorded_workflow_id(load_history(p.stem).events) for p in RECORDED]
    assert all(i is not None and is_partner_approval_id(i) for i in ids), ids
    assert any(i is not None and i.startswith(LEGACY_APPROVAL_ID_PREFIX) for i in ids), ids


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    result = await replayer(PartnerApprovalWorkflow).replay_workflow(
        await load(path), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure
