"""Ops-tooling signals (time-skipping server): invalid decisions recorded, withdraw."""

from __future__ import annotations

import asyncpg
from approval_helpers import approval_input, start_approval, state_when, step, step_open
from temporalio.client import Client

from domain import errors
from domain.approval import DecideInput, Decision
from domain.approval_messages import WithdrawInput
from store import audit
from workflows.partner_approval import PartnerApprovalWorkflow


async def test_invalid_signal_is_recorded_in_the_trail_but_not_applied(
    time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input([step("commercial", "carol", "rita")])
    handle = await start_approval(time_client, params, task_queue)
    await state_when(handle, step_open("commercial"))

    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by=params.requester, decision=Decision.APPROVE),
    )
    refused = await state_when(handle, lambda s: len(s.trail) == 2)

    entry = refused.trail[-1]
    assert (entry.actor, entry.decision, entry.applied) == (params.requester, "approve", False)
    assert entry.note is not None and entry.note.startswith(f"{errors.FORBIDDEN}: four-eyes")
    assert refused.status == "awaiting_decision"
    assert [e.event for e in refused.open_tasks[0].history] == ["opened"]

    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by="carol", decision=Decision.APPROVE),
    )
    result = await handle.result()
    assert result.outcome == "approved"
    assert [(e.actor, e.applied) for e in result.trail[1:]] == [
        (params.requester, False),
        ("carol", True),
    ]
    actions = [r["action"] for r in await audit.for_deal(pool, params.deal_id)]
    assert actions == [
        "partner_approval.screened",
        "partner_approval.decision_refused",
        "partner_approval.decision",
        "partner_approval.approved",
    ]


async def test_withdraw_closes_the_open_task_and_ends_withdrawn(
    time_client: Client, task_queue: str
) -> None:
    params = approval_input([step("commercial", "carol")])
    handle = await start_approval(time_client, params, task_queue)
    await state_when(handle, step_open("commercial"))

    await handle.signal(
        PartnerApprovalWorkflow.withdraw,
        WithdrawInput(requested_by=params.requester, reason="deal cancelled"),
    )
    result = await handle.result()

    assert (result.outcome, result.reasons) == ("withdrawn", ["withdrawn by rita: deal cancelled"])
    final = await handle.query(PartnerApprovalWorkflow.state)
    assert (final.status, final.open_tasks, final.current_step) == ("withdrawn", [], None)
