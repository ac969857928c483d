"""The deal's one decision entry point: `decide` (and its ops signal) routes every task kind
- owner inputs included - under the same rules (dev server: real Updates)."""

from __future__ import annotations

from decimal import Decimal

from deal_helpers import (
    OWNER,
    PLAN_APPROVERS,
    SIGNATORY,
    approve_child,
    deal_request,
    latest,
    needs_open,
    open_task,
    plan,
    start_deal,
    wait_state,
)
from deal_helpers import (
    decide_update as decide,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import refusal, refused_field

from domain import errors
from domain.bounds import RECORDED
from domain.deal import Audience, Needs, Objective
from domain.deal_messages import SubmitNeedsInput, TaskDecisionInput, TerminateInput
from domain.deal_state import Stage
from workflows.licensing_deal import LicensingDealWorkflow

NEEDS = Needs(
    objectives=[Objective(kind="revenue", target=Decimal("500000"), unit="EUR")],
    audience=Audience(segments=["teens"], regions=["DE"]),
)


async def refused(
    client: Client, deal_id: str, task: str, who: str, decision: str, **extra: object
) -> tuple[str | None, str | None]:
    error = await refusal(decide(client, deal_id, task, who, decision, **extra))
    return error.type, refused_field(error)


async def test_decide_routes_needs_and_plan_revision_with_the_same_checks(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_worker.client
    deal_id = (await needs_open(client, task_queue)).deal_id

    doubled = NEEDS.model_copy(update={"objectives": NEEDS.objectives * 2})
    assert await refused(client, deal_id, "needs", "mallory", "submit", needs=NEEDS) == (
        errors.FORBIDDEN,
        None,
    )
    assert await refused(client, deal_id, "needs", OWNER, "approve", needs=NEEDS) == (
        errors.INVALID,
        "decision",
    )
    assert await refused(client, deal_id, "needs", OWNER, "submit") == (errors.INVALID, "needs")
    assert await refused(client, deal_id, "needs", OWNER, "submit", needs=doubled) == (
        errors.INVALID,
        "needs.objectives",
    )
    state = await decide(client, deal_id, "needs", OWNER, "submit", needs=NEEDS)
    assert state.stage is Stage.PLANNING
    assert state.request is not None
    assert [(h.event, h.by) for h in state.history if h.event == "needs_submitted"] == [
        ("needs_submitted", OWNER)
    ]

    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "reject", comment="too low")
    await wait_state(client, deal_id, lambda s: open_task(s, "revise-v1"))
    # the earlier names keep their own checks: decide_task decides no owner input
    legacy = TaskDecisionInput(
        task_id="revise-v1", decided_by=OWNER, decision="revise", plan=plan()
    )
    refused_legacy = await refusal(
        latest(client, deal_id).execute_update(LicensingDealWorkflow.decide_task, legacy)
    )
    assert (refused_legacy.type, refused_legacy.message) == (
        errors.CONFLICT,
        "plan_revision tasks are not decided here",
    )
    await latest(client, deal_id).signal(LicensingDealWorkflow.decide_task_signal, legacy)
    noted = await wait_state(
        client, deal_id, lambda s: any(h.event == "signal_rejected" for h in s.history)
    )
    assert noted.plan_version == 1 and open_task(noted, "revise-v1")
    assert await refused(client, deal_id, "revise-v1", OWNER, "revise") == (errors.INVALID, "plan")
    assert await refused(client, deal_id, "revise-v1", "mallory", "revise", plan=plan()) == (
        errors.FORBIDDEN,
        None,
    )
    state = await decide(client, deal_id, "revise-v1", OWNER, "revise", plan=plan("150000"))
    assert state.plan_version == 2 and open_task(state, "plan-v2")
    assert await refused(client, deal_id, "revise-v1", OWNER, "revise", plan=plan()) == (
        errors.CONFLICT,
        None,
    )

    # the earlier per-input update keeps its own check
    legacy = await refusal(
        latest(client, deal_id).execute_update(
            LicensingDealWorkflow.submit_needs, SubmitNeedsInput(submitted_by=OWNER, needs=NEEDS)
        )
    )
    assert legacy.type == errors.CONFLICT

    await latest(client, deal_id).execute_update(
        LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="test over")
    )
    outcome = await latest(client, deal_id).result()
    assert outcome.stage is Stage.TERMINATED


async def test_decide_signal_applies_owner_inputs_and_notes_refusals(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_worker.client
    deal_id = (await needs_open(client, task_queue)).deal_id
    handle = latest(client, deal_id)

    signal = LicensingDealWorkflow.decide_signal
    await handle.signal(
        signal,
        TaskDecisionInput(task_id="needs", decided_by="mallory", decision="submit", needs=NEEDS),
    )
    await handle.signal(
        signal, TaskDecisionInput(task_id="needs", decided_by=OWNER, decision="submit", needs=NEEDS)
    )
    state = await wait_state(client, deal_id, lambda s: s.stage is Stage.PLANNING)
    rejected = [h for h in state.history if h.event == "signal_rejected"]
    assert [h.by for h in rejected] == ["mallory"]
    assert "not assigned" in (rejected[0].detail or "")

    await handle.execute_update(
        LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="test over")
    )


async def test_signature_tasks_are_not_decided_by_the_workflow(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    """`sign`/`decline` travel the e-signature path; the workflow refuses them (409), and a
    decision a signature task does not take is invalid (422)."""
    client = dev_worker.client
    request = deal_request()
    deal_id = request.deal_id
    await start_deal(client, request, task_queue)
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"))
    await decide(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await approve_child(client, deal_id)
    await wait_state(client, deal_id, lambda s: open_task(s, "signature-1"))

    assert await refused(client, deal_id, "signature-1", SIGNATORY, "sign") == (
        errors.CONFLICT,
        None,
    )
    assert await refused(client, deal_id, "signature-1", SIGNATORY, "approve") == (
        errors.INVALID,
        "decision",
    )
    await latest(client, deal_id).execute_update(
        LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="test over")
    )


async def test_updates_sent_past_the_api_meet_the_same_bounds(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    """Update arguments decode leniently (as history does); the validator re-checks them."""
    client = dev_worker.client
    deal_id = (await needs_open(client, task_queue)).deal_id
    refused_bell = await refusal(
        latest(client, deal_id).execute_update(
            LicensingDealWorkflow.terminate,
            # built as another SDK client could send it (no edge check on this side)
            TerminateInput.model_validate(
                {"requested_by": OWNER, "reason": "ring \u0007 the bell"}, context=RECORDED
            ),
        )
    )
    assert (refused_bell.type, refused_field(refused_bell)) == (errors.INVALID, "reason")
    await latest(client, deal_id).execute_update(
        LicensingDealWorkflow.terminate, TerminateInput(requested_by=OWNER, reason="test over")
    )
