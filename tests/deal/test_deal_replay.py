"""Replay of recorded LicensingDeal histories: a change that breaks determinism fails here.

Re-record (only for an intended, versioned change) with
`LICENSEFLOW_RECORD_HISTORIES=1 pytest tests/deal`.
"""

from __future__ import annotations

import pytest
from workflow_helpers import HISTORIES, load_history, replayer

from workflows.licensing_deal import LicensingDealWorkflow

RECORDED = sorted(p.stem for p in HISTORIES.glob("licensing_deal_*.json"))


def test_histories_are_recorded() -> None:
    assert set(RECORDED) >= {
        "licensing_deal_year1_launch",
        "licensing_deal_year3_renewal",
        "licensing_deal_updates_terminate",
        "licensing_deal_signature_resend",
        # recorded by the release before `decide` (a review of that change found both):
        "licensing_deal_legacy_revise_signal",  # decide_task_signal on a revision: refused
        "licensing_deal_report_version_zero",  # a version-0 report is not a report
        "licensing_deal_lean_calls",  # local checks and statements (patch lean-calls)
    }


@pytest.mark.parametrize("name", RECORDED)
async def test_recorded_history_replays(name: str) -> None:
    """Payloads sealed with the test ring (tests/histories/encrypt_histories.py)."""
    result = await replayer(LicensingDealWorkflow).replay_workflow(
        load_history(name), raise_on_replay_failure=True
    )
    assert result.replay_failure is None
