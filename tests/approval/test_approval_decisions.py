"""PartnerApproval decisions on the dev server: approve, reject, quorum, delegation, four-eyes."""

from __future__ import annotations

import asyncpg
from approval_helpers import (
    approval_input,
    decide,
    record_history,
    start_approval,
    state_when,
    step,
    step_open,
)
from temporalio.client import Client
from temporalio.converter import decode_typed_search_attributes
from workflow_helpers import refusal

from domain import errors
from store import audit
from workflows.partner_approval import PartnerApprovalWorkflow
from workflows.search_attributes import PENDING_APPROVERS


async def test_two_step_chain_approves_and_audits_every_decision(
    dev_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input([step("commercial", "carol"), step("legal", "dave")])
    handle = await start_approval(dev_client, params, task_queue)

    first = await state_when(handle, step_open("commercial"))
    [task] = first.open_tasks
    assert task.task_id == f"{handle.id}:commercial-v1"
    assert (task.kind, task.assignees, task.step) == ("partner_approval", ["carol"], "commercial")
    assert task.allowed_decisions == ["approve", "reject", "needs_revision", "delegate"]
    assert first.screening is not None and first.screening.passed

    await decide(handle, "carol", "approve", comment="fits the plan", task_id=task.task_id)
    second = await state_when(handle, step_open("legal"))
    assert [t.task_id for t in second.open_tasks] == [f"{handle.id}:legal-v1"]
    await decide(handle, "dave", "approve")

    result = await handle.result()
    assert (result.outcome, result.score, result.reasons, result.version) == (
        "approved",
        4.0,
        [],
        1,
    )
    decisions = [(e.step, e.actor, e.decision) for e in result.trail if e.step != "screening"]
    assert decisions == [("commercial", "carol", "approve"), ("legal", "dave", "approve")]
    rows = await audit.for_deal(pool, params.deal_id)
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("system", "partner_approval.screened"),
        ("carol", "partner_approval.decision"),
        ("dave", "partner_approval.decision"),
        ("system", "partner_approval.approved"),
    ]
    assert rows[1]["detail"]["comment"] == "fits the plan"
    await record_history(handle, "partner_approval_approved")


async def test_rejection_at_step_two_ends_without_opening_step_three(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol"), step("legal", "dave"), step("finance", "hank")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    await state_when(handle, step_open("commercial"))
    await decide(handle, "carol", "approve")
    await state_when(handle, step_open("legal"))

    after = await decide(handle, "dave", "reject", comment="exclusivity clash")

    assert after.open_tasks == []
    result = await handle.result()
    assert result.outcome == "rejected"
    assert result.reasons == ["rejected at step legal by dave: exclusivity clash"]
    assert "finance" not in {e.step for e in result.trail}
    history = await handle.fetch_history()
    pending_ever = set()
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            attrs = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            pending_ever.update(decode_typed_search_attributes(attrs).get(PENDING_APPROVERS) or [])
    assert pending_ever == {"carol", "dave"}


async def test_four_eyes_and_input_violations_are_refused(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol", "rita"), step("legal", "carol", "dave")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    opened = await state_when(handle, step_open("commercial"))
    task_id = opened.open_tasks[0].task_id

    requester = await refusal(decide(handle, "rita", "approve"))
    outsider = await refusal(decide(handle, "frank", "approve"))
    no_comment = await refusal(decide(handle, "carol", "reject", comment="  "))
    no_target = await refusal(decide(handle, "carol", "delegate"))
    to_requester = await refusal(decide(handle, "carol", "delegate", delegate_to="rita"))
    stale = await refusal(decide(handle, "carol", "approve", task_id=f"{handle.id}:legal-v1"))

    assert (requester.type, outsider.type, no_comment.type) == (
        errors.FORBIDDEN,
        errors.FORBIDDEN,
        errors.INVALID,
    )
    assert "four-eyes" in requester.message and "four-eyes" in to_requester.message
    assert (no_target.type, to_requester.type, stale.type) == (
        errors.INVALID,
        errors.FORBIDDEN,
        errors.CONFLICT,
    )
    untouched = await handle.query(PartnerApprovalWorkflow.state)
    assert [e.step for e in untouched.trail] == ["screening"]
    assert untouched.open_tasks[0].task_id == task_id

    await decide(handle, "carol", "approve", task_id=task_id)
    await state_when(handle, step_open("legal"))
    twice = await refusal(decide(handle, "carol", "approve"))
    assert twice.type == errors.FORBIDDEN
    assert "four-eyes" in twice.message and "commercial" in twice.message

    await decide(handle, "dave", "approve")
    assert (await handle.result()).outcome == "approved"


async def test_quorum_all_needs_every_approver(dev_client: Client, task_queue: str) -> None:
    chain = [step("commercial", "carol", "dave", quorum="all"), step("legal", "frank")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    await state_when(handle, step_open("commercial"))

    partial = await decide(handle, "carol", "approve")
    assert partial.current_step == "commercial"
    [task] = partial.open_tasks
    assert [e.event for e in task.history] == ["opened", "approved"]
    again = await refusal(decide(handle, "carol", "approve"))
    assert again.type == errors.CONFLICT

    await decide(handle, "dave", "approve")
    await state_when(handle, step_open("legal"))
    await decide(handle, "frank", "approve")
    assert (await handle.result()).outcome == "approved"


async def test_quorum_all_is_decided_by_a_single_reject(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol", "dave", quorum="all")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    await state_when(handle, step_open("commercial"))
    await decide(handle, "carol", "approve")
    await decide(handle, "dave", "reject", comment="royalty too low")

    result = await handle.result()
    assert result.outcome == "rejected"
    assert result.reasons == ["rejected at step commercial by dave: royalty too low"]


async def test_delegate_takes_over_and_four_eyes_applies_to_delegates(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol", "dave", quorum="all"), step("legal", "frank")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    await state_when(handle, step_open("commercial"))

    delegated = await decide(handle, "carol", "delegate", delegate_to="gina", comment="on leave")
    [task] = delegated.open_tasks
    assert task.assignees == ["dave", "gina"]
    last = task.history[-1]
    assert (last.event, last.by, last.detail) == ("delegated", "carol", "to gina")
    gone = await refusal(decide(handle, "carol", "approve"))
    assert gone.type == errors.FORBIDDEN

    await decide(handle, "gina", "approve")
    still_open = await handle.query(PartnerApprovalWorkflow.state)
    assert still_open.current_step == "commercial"
    await decide(handle, "dave", "approve")
    await state_when(handle, step_open("legal"))

    to_earlier = await refusal(decide(handle, "frank", "delegate", delegate_to="gina"))
    assert to_earlier.type == errors.FORBIDDEN and "four-eyes" in to_earlier.message
    to_self = await refusal(decide(handle, "frank", "delegate", delegate_to="frank"))
    assert to_self.type == errors.INVALID
    await decide(handle, "frank", "delegate", delegate_to="hank")
    await decide(handle, "hank", "approve")

    result = await handle.result()
    assert result.outcome == "approved"
    assert [(e.actor, e.decision, e.delegate_to) for e in result.trail[1:]] == [
        ("carol", "delegate", "gina"),
        ("gina", "approve", None),
        ("dave", "approve", None),
        ("frank", "delegate", "hank"),
        ("hank", "approve", None),
    ]
