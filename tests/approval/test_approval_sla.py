"""Reminder at SLA, escalation at 2xSLA, expiry at 6xSLA (time-skipping server, signals)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from approval_helpers import (
    approval_input,
    record_history,
    start_approval,
    state_when,
    step,
    step_open,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.approval import DecideInput, Decision
from domain.tasks import Task
from store import notifications
from workflows.partner_approval import PartnerApprovalWorkflow

SLA = timedelta(days=5)


TOLERANCE = timedelta(seconds=30)
"""Timers fire on time; milliseconds of real processing pass between skipped intervals."""


def event_offsets(task: Task) -> dict[str, timedelta]:
    """When each history event happened relative to the task's opening, within TOLERANCE."""
    return {e.event: about(e.at - task.opened_at) for e in task.history}


def about(offset: timedelta) -> timedelta:
    """`offset` rounded down to TOLERANCE."""
    return offset - offset % TOLERANCE


def sent(rows: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(r["kind"], r["recipient"]) for r in rows}


async def test_reminder_at_sla_and_escalation_at_twice_sla_keep_the_task_open(
    time_env: WorkflowEnvironment, time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    chain = [step("commercial", "carol", "dave", escalate_to="vera")]
    params = approval_input(chain, decision_sla="P5D")
    handle = await start_approval(time_client, params, task_queue)
    await state_when(handle, step_open("commercial"))

    await time_env.sleep(SLA * 2 + timedelta(hours=1))
    escalated = await state_when(
        handle, lambda s: "escalated" in [e.event for e in s.open_tasks[0].history]
    )

    [task] = escalated.open_tasks
    assert event_offsets(task) == {
        "opened": timedelta(0),
        "reminded": SLA,
        "escalated": SLA * 2,
    }
    assert task.assignees == ["carol", "dave", "vera"]
    assert task.due_at - task.opened_at == SLA
    assert sent(await notifications.for_deal(pool, params.deal_id)) == {
        ("reminder", "carol"),
        ("reminder", "dave"),
        ("escalation", "vera"),
    }

    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by="vera", decision=Decision.APPROVE, comment="approved on escalation"),
    )
    result = await handle.result()
    assert result.outcome == "approved"
    assert result.trail[-1].actor == "vera"
    await record_history(handle, "partner_approval_escalated")


async def test_escalation_without_escalate_to_notifies_the_requester_only(
    time_env: WorkflowEnvironment, time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input([step("commercial", "carol")], decision_sla="PT1H")
    handle = await start_approval(time_client, params, task_queue)
    await state_when(handle, step_open("commercial"))

    await time_env.sleep(timedelta(hours=2, minutes=30))
    escalated = await state_when(
        handle, lambda s: "escalated" in [e.event for e in s.open_tasks[0].history]
    )

    assert escalated.open_tasks[0].assignees == ["carol"]
    assert sent(await notifications.for_deal(pool, params.deal_id)) == {
        ("reminder", "carol"),
        ("escalation", params.requester),
    }


async def test_no_decision_within_six_slas_expires_as_rejected(
    time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input([step("commercial", "carol"), step("legal", "dave")])
    handle = await start_approval(time_client, params, task_queue)

    result = await handle.result()

    assert (result.outcome, result.reasons) == ("rejected", ["expired at step commercial"])
    expired = result.trail[-1]
    assert (expired.step, expired.actor, expired.decision) == ("commercial", "system", "expired")
    screened_at = result.trail[0].at
    assert about(expired.at - screened_at) == SLA * 6
    final = await handle.query(PartnerApprovalWorkflow.state)
    assert (final.status, final.open_tasks) == ("rejected", [])
    assert sent(await notifications.for_deal(pool, params.deal_id)) == {
        ("reminder", "carol"),
        ("escalation", params.requester),
    }


async def test_revision_wait_reminds_requester_and_contact_then_expires(
    time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input([step("commercial", "carol")])
    handle = await start_approval(time_client, params, task_queue)
    await state_when(handle, step_open("commercial"))
    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by="carol", decision=Decision.NEEDS_REVISION, comment="more data"),
    )

    result = await handle.result()

    assert (result.outcome, result.reasons) == ("rejected", ["expired awaiting revision"])
    asked, expired = result.trail[-2:]
    assert (asked.decision, expired.step, expired.decision) == (
        "needs_revision",
        "revision",
        "expired",
    )
    assert about(expired.at - asked.at) == SLA * 6
    assert sent(await notifications.for_deal(pool, params.deal_id)) == {
        ("reminder", params.requester),
        ("reminder", "erin"),
        ("escalation", params.requester),
    }
