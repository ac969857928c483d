"""needs_revision → resubmit → version 2 from step 1 (dev server: Updates)."""

from __future__ import annotations

from decimal import Decimal

from approval_helpers import (
    REQUESTER,
    Handle,
    approval_input,
    decide,
    record_history,
    start_approval,
    state_when,
    step,
    step_open,
)
from factories import partner_profile
from temporalio.client import Client
from workflow_helpers import refusal, refused_field

from domain import errors
from domain.approval import DecideInput, Decision, PartnerApprovalState, ResubmitInput
from domain.partner import Risk
from workflows.partner_approval import PartnerApprovalWorkflow


async def test_needs_revision_waits_for_resubmit_then_restarts_as_version_two(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol"), step("legal", "dave")]
    handle = await start_approval(dev_client, approval_input(chain), task_queue)
    await state_when(handle, step_open("commercial"))
    await decide(handle, "carol", "approve")
    await state_when(handle, step_open("legal"))
    no_comment = await refusal(decide(handle, "dave", "needs_revision"))
    assert no_comment.type == errors.INVALID

    await decide(handle, "dave", "needs_revision", comment="raise insurance to 5M")

    waiting = await state_when(handle, lambda s: s.status == "awaiting_revision")
    [task] = waiting.open_tasks
    assert (task.task_id, task.kind, task.assignees) == (
        f"{handle.id}:revision-v1",
        "partner_revision",
        ["erin", REQUESTER],
    )
    assert task.allowed_decisions == ["resubmit"]
    decide_now = await refusal(decide(handle, "dave", "approve"))
    assert decide_now.type == errors.CONFLICT

    revised = partner_profile(risk=Risk(insurance_coverage=Decimal("5000000")), version=2)

    async def resubmit(by: str, new_profile: object = revised) -> object:
        return await handle.execute_update(
            PartnerApprovalWorkflow.resubmit,
            ResubmitInput(submitted_by=by, profile=new_profile, comment="insurance raised"),
        )

    outsider = await refusal(resubmit("frank"))
    wrong_partner = await refusal(resubmit("erin", partner_profile(partner_id="other")))
    assert (outsider.type, wrong_partner.type) == (errors.FORBIDDEN, errors.INVALID)

    await resubmit("erin")
    again = await state_when(handle, step_open("commercial"))
    assert again.version == 2
    assert [t.task_id for t in again.open_tasks] == [f"{handle.id}:commercial-v2"]
    late = await refusal(resubmit("erin"))
    assert late.type == errors.CONFLICT

    await decide(handle, "carol", "approve")
    await state_when(handle, step_open("legal"))
    await decide(handle, "dave", "approve")

    result = await handle.result()
    assert (result.outcome, result.version) == ("approved", 2)
    assert [(e.version, e.step, e.actor, e.decision) for e in result.trail] == [
        (1, "screening", "system", "passed"),
        (1, "commercial", "carol", "approve"),
        (1, "legal", "dave", "needs_revision"),
        (1, "revision", "erin", "resubmit"),
        (2, "screening", "system", "passed"),
        (2, "commercial", "carol", "approve"),
        (2, "legal", "dave", "approve"),
    ]
    await record_history(handle, "partner_approval_revision")


async def awaiting_revision(client: Client, task_queue: str) -> tuple[Handle, PartnerApprovalState]:
    """A one-step approval whose approver asked for a revised profile."""
    handle = await start_approval(client, approval_input([step("commercial", "carol")]), task_queue)
    await state_when(handle, step_open("commercial"))
    await decide(handle, "carol", "needs_revision", comment="raise insurance")
    return handle, await state_when(handle, lambda s: s.status == "awaiting_revision")


async def test_resubmit_is_a_decision_on_the_revision_task(
    dev_client: Client, task_queue: str
) -> None:
    """`decide` takes `resubmit` with the revised profile (the API's one entry point)."""
    handle, waiting = await awaiting_revision(dev_client, task_queue)
    [task] = waiting.open_tasks
    revised = partner_profile(risk=Risk(insurance_coverage=Decimal("5000000")), version=2)

    no_profile = await refusal(decide(handle, "erin", "resubmit", task_id=task.task_id))
    stale = await refusal(
        decide(handle, "erin", "resubmit", profile=revised, task_id=f"{handle.id}:revision-v9")
    )
    outsider = await refusal(decide(handle, "frank", "resubmit", profile=revised))
    on_a_step = await refusal(decide(handle, "carol", "approve"))
    assert (no_profile.type, refused_field(no_profile)) == (errors.INVALID, "profile")
    assert (stale.type, outsider.type, on_a_step.type) == (
        errors.CONFLICT,
        errors.FORBIDDEN,
        errors.CONFLICT,
    )

    state = await decide(
        handle, "erin", "resubmit", profile=revised, comment="5M", task_id=task.task_id
    )
    resubmitted = [e for e in state.trail if e.decision == "resubmit"]
    assert [(e.version, e.actor, e.comment) for e in resubmitted] == [(1, "erin", "5M")]
    again = await state_when(handle, step_open("commercial"))
    assert again.version == 2
    await decide(handle, "carol", "approve")
    result = await handle.result()
    assert (result.outcome, result.version) == ("approved", 2)


async def test_resubmit_by_ops_signal_applies_the_profile(
    dev_client: Client, task_queue: str
) -> None:
    handle, _ = await awaiting_revision(dev_client, task_queue)
    revised = partner_profile(risk=Risk(insurance_coverage=Decimal("5000000")), version=2)
    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by="erin", decision=Decision.RESUBMIT, profile=revised),
    )
    again = await state_when(handle, step_open("commercial"))
    assert again.version == 2
    await decide(handle, "carol", "approve")
    assert (await handle.result()).outcome == "approved"
