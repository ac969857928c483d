"""Recorded PartnerApproval histories still replay: a non-deterministic change fails here.

Re-record with `LICENSEFLOW_RECORD_HISTORIES=1 pytest tests/approval` after an intended,
versioned change (the recording tests write tests/histories/partner_approval_*.json).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from workflow_helpers import HISTORIES, replayer

from domain.approval import PartnerApprovalInput
from domain.ids import partner_approval_id
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


def load(path: Path) -> WorkflowHistory:
    """The history under its original workflow id (task ids embed it, so replay needs it)."""
    events = WorkflowHistory.from_json("unknown", path.read_text()).events
    started = events[0].workflow_execution_started_event_attributes
    [params] = data_converter.payload_converter.from_payloads(
        started.input.payloads, [PartnerApprovalInput]
    )
    workflow_id = partner_approval_id(params.deal_id, params.partner.partner_id)
    return WorkflowHistory(workflow_id=workflow_id, events=events)


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    result = await replayer(PartnerApprovalWorkflow).replay_workflow(
        load(path), raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure
