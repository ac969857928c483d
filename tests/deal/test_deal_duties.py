"""Separation of duties and collision-free approvals, seen from the deal (dev server: real
Updates beside the ops signals).

* Partner approval ids cannot collide across deals (deal `zeta` + partner `eu-acme` and deal
  `zeta-eu` + partner `acme` both reach partner approval).
* A child start refused because its id is held by a running workflow parks the deal on an
  incident instead of failing it; `retry` starts the child once the id is free.
* The owner cannot decide on their own plan, a partner user cannot approve the partner, and
  the licensor signatory is neither a partner user nor the owner (unless `owner_may_sign`).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from deal_helpers import (
    OWNER,
    PARTNER_APPROVER,
    PLAN_APPROVERS,
    approve_child,
    deal_request,
    decide_signal,
    decide_update,
    latest,
    open_task,
    replay_and_record_runs,
    seed_partner,
    start_deal,
    wait_state,
)
from factories import partner_profile
from polling import eventually
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from workflow_helpers import refusal, refused_field, track

from domain import errors
from domain.approval import (
    ApprovalStep,
    DecideInput,
    Decision,
    PartnerApprovalInput,
    PartnerApprovalState,
)
from domain.deal_state import DealState, Stage
from domain.ids import deal_workflow_id, legacy_partner_approval_id, partner_approval_id
from store import users
from workflows.partner_approval import PartnerApprovalWorkflow

PARTNER_USER = "acme-ops"


async def plan_approved(client: Client, deal_id: str) -> None:
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"), what="plan task")
    await decide_signal(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")


async def child_open(
    client: Client, deal_id: str, partner_id: str, *, step: str = "legal"
) -> PartnerApprovalState:
    """The deal's approval of `partner_id` once its `step` is open."""
    child = client.get_workflow_handle_for(
        PartnerApprovalWorkflow.run, partner_approval_id(deal_id, partner_id)
    )
    return await eventually(
        lambda: child.query(PartnerApprovalWorkflow.state),
        lambda s: s.current_step == step and bool(s.open_tasks),
        within=20,
        interval=0.05,
        what=f"partner approval of {partner_id} for {deal_id} open",
        tolerate=(RPCError, WorkflowQueryFailedError),
    )


async def running(client: Client, deal_id: str) -> bool:
    described = await client.get_workflow_handle(deal_workflow_id(deal_id)).describe()
    return described.status == WorkflowExecutionStatus.RUNNING


def signature_open(state: DealState) -> bool:
    return open_task(state, "signature-1")


async def test_approvals_of_two_deals_never_share_an_id(
    dev_worker: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
) -> None:
    """The issue's pairs: deal `zeta` + partner `eu-acme`, deal `zeta-eu` + partner `acme`.
    Before the fix both children were `partner-approval-zeta-eu-acme` and the second deal
    FAILED with WORKFLOW_ALREADY_EXISTS."""
    client = dev_worker.client
    await seed_partner(pool, "eu-acme")
    zeta = f"zeta-{uuid.uuid4().hex[:6]}"
    first = deal_request(deal_id=zeta, partners=["eu-acme"])
    second = deal_request(deal_id=f"{zeta}-eu", partners=["acme"])
    assert legacy_partner_approval_id(zeta, "eu-acme") == legacy_partner_approval_id(
        f"{zeta}-eu", "acme"
    )
    for request in (first, second):
        await start_deal(client, request, task_queue)
        await plan_approved(client, request.deal_id)

    one = await child_open(client, first.deal_id, "eu-acme")
    two = await child_open(client, second.deal_id, "acme")

    assert (one.deal_id, one.partner_id) == (first.deal_id, "eu-acme")
    assert (two.deal_id, two.partner_id) == (second.deal_id, "acme")
    assert one.open_tasks[0].task_id == f"partner-approval:{zeta}:eu-acme:legal-v1"
    assert two.open_tasks[0].task_id == f"partner-approval:{zeta}-eu:acme:legal-v1"
    for request, partner_id in ((first, "eu-acme"), (second, "acme")):
        await approve_child(client, request.deal_id, partner_id)
        state = await wait_state(client, request.deal_id, signature_open, what="signature")
        assert (state.partner_id, state.health) == (partner_id, "ok")
        assert await running(client, request.deal_id)


async def test_a_child_id_held_by_a_running_workflow_parks_the_deal_until_retry(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_worker.client
    request = deal_request()
    child_id = partner_approval_id(request.deal_id, "acme")
    occupant = await client.start_workflow(
        PartnerApprovalWorkflow.run,
        PartnerApprovalInput(
            deal_id=request.deal_id,
            partner=partner_profile("acme"),
            scope=request.plan.scope,
            requester=OWNER,
            chain=[ApprovalStep(step="stray", approvers=["nobody"])],
        ),
        id=child_id,
        task_queue=task_queue,
    )
    track(client, occupant.id)
    await start_deal(client, request, task_queue)
    await plan_approved(client, request.deal_id)

    blocked = await wait_state(
        client, request.deal_id, lambda s: open_task(s, "incident-1"), what="deal parked"
    )
    assert (blocked.stage, blocked.health) == (
        Stage.IMPLEMENTATION,
        "blocked",
    )  # parked, not failed
    assert blocked.incident is not None
    assert f"partner_approval: acme: workflow id {child_id} is held" in blocked.incident
    [incident] = [t for t in blocked.open_tasks if t.kind == "incident"]
    assert (incident.assignees, incident.allowed_decisions) == ([OWNER], ["retry", "terminate"])
    assert "partner_approval_start_refused" in [h.event for h in blocked.history]
    assert await running(client, request.deal_id)

    # still held: a retry parks again, on a new incident
    await decide_signal(client, request.deal_id, "incident-1", OWNER, "retry")
    again = await wait_state(
        client, request.deal_id, lambda s: open_task(s, "incident-2"), what="second incident"
    )
    assert again.health == "blocked"

    await occupant.terminate("stray approval of an earlier attempt")
    await decide_signal(client, request.deal_id, "incident-2", OWNER, "retry")
    started = await wait_state(
        client,
        request.deal_id,
        lambda s: any(h.event == "partner_approval_started" for h in s.history),
        what="child started",
    )
    assert started.health == "ok"
    await child_open(client, request.deal_id, "acme", step="legal")  # not the stray one
    await approve_child(client, request.deal_id)
    state = await wait_state(client, request.deal_id, signature_open, what="signature")
    assert (state.health, state.incident, state.partner_id) == ("ok", None, "acme")
    run_id = (await latest(client, request.deal_id).describe()).run_id
    await replay_and_record_runs(client, request.deal_id, {"child_id_held": run_id})


async def test_the_owner_cannot_decide_on_their_own_plan_even_if_named(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_worker.client
    request = deal_request(plan_approvers=[OWNER, "paul"])
    await start_deal(client, request, task_queue)
    opened = await wait_state(client, request.deal_id, lambda s: open_task(s, "plan-v1"))
    assert OWNER in opened.open_tasks[0].assignees  # named, yet refused

    by_update = await refusal(decide_update(client, request.deal_id, "plan-v1", OWNER, "approve"))
    assert by_update.type == errors.FORBIDDEN
    assert "separation of duties" in by_update.message
    rejecting = await refusal(
        decide_update(client, request.deal_id, "plan-v1", OWNER, "reject", comment="x")
    )
    assert rejecting.type == errors.FORBIDDEN

    await decide_signal(client, request.deal_id, "plan-v1", OWNER, "approve")
    noted = await wait_state(
        client,
        request.deal_id,
        lambda s: any(h.event == "signal_rejected" for h in s.history),
        what="refused signal noted",
    )
    [rejected] = [h for h in noted.history if h.event == "signal_rejected"]
    assert rejected.by == OWNER
    assert rejected.detail is not None and "separation of duties" in rejected.detail
    assert open_task(noted, "plan-v1") and noted.stage is Stage.PLANNING

    await decide_update(client, request.deal_id, "plan-v1", "paul", "approve")
    await wait_state(client, request.deal_id, lambda s: s.stage is Stage.IMPLEMENTATION)


async def test_a_partner_user_cannot_approve_the_partner_even_if_listed(
    dev_worker: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
) -> None:
    client = dev_worker.client
    await users.upsert(pool, PARTNER_USER, roles=["partner"], partner_id="acme")
    request = deal_request(
        partner_approval_chain=[
            ApprovalStep(step="legal", approvers=[PARTNER_USER, PARTNER_APPROVER, OWNER])
        ]
    )
    await start_deal(client, request, task_queue)
    await plan_approved(client, request.deal_id)
    opened = await child_open(client, request.deal_id, "acme")
    [task] = opened.open_tasks
    assert task.assignees == [PARTNER_APPROVER]
    assert (task.history[-1].event, task.history[-1].detail) == (
        "excluded",
        f"{PARTNER_USER}, {OWNER} (separation of duties)",
    )

    child = client.get_workflow_handle_for(
        PartnerApprovalWorkflow.run, partner_approval_id(request.deal_id, "acme")
    )

    async def decide(who: str, decision: Decision, **extra: Any) -> PartnerApprovalState:
        return await child.execute_update(
            PartnerApprovalWorkflow.decide, DecideInput(decided_by=who, decision=decision, **extra)
        )

    partner_user = await refusal(decide(PARTNER_USER, Decision.APPROVE))
    owner = await refusal(decide(OWNER, Decision.APPROVE))
    assert (partner_user.type, owner.type) == (errors.FORBIDDEN, errors.FORBIDDEN)
    assert "user of partner acme" in partner_user.message
    to_counterparty = await refusal(
        decide(PARTNER_APPROVER, Decision.DELEGATE, delegate_to=PARTNER_USER)
    )
    assert (to_counterparty.type, refused_field(to_counterparty)) == (
        errors.FORBIDDEN,
        "delegate_to",
    )

    await decide(PARTNER_APPROVER, Decision.APPROVE)
    state = await wait_state(client, request.deal_id, signature_open, what="signature")
    assert state.partner_id == "acme"


async def test_a_partner_user_as_licensor_signatory_gets_no_envelope(
    dev_worker: WorkflowEnvironment, task_queue: str, pool: asyncpg.Pool
) -> None:
    client = dev_worker.client
    await users.upsert(pool, "acme-sam", roles=["partner"], partner_id="acme")
    request = deal_request(licensor_signatory="acme-sam")
    await start_deal(client, request, task_queue)
    await plan_approved(client, request.deal_id)
    await approve_child(client, request.deal_id)

    blocked = await wait_state(
        client, request.deal_id, lambda s: open_task(s, "incident-1"), what="signatory refused"
    )
    assert blocked.health == "blocked"
    assert blocked.incident == (
        "licensor_signatory: separation of duties: licensor signatory acme-sam is a user of"
        " partner acme"
    )
    assert blocked.envelope_id is None and not open_task(blocked, "signature-1")
    assert [h.by for h in blocked.history if h.event == "signatory_refused"] == ["acme-sam"]

    # the binding was a mistake: ops fix the directory and retry
    await users.upsert(pool, "acme-sam", roles=["approver"])
    await decide_signal(client, request.deal_id, "incident-1", OWNER, "retry")
    state = await wait_state(client, request.deal_id, signature_open, what="signature")
    assert state.envelope_id is not None and state.health == "ok"
    assert "acme-sam" in state.open_tasks[0].assignees
    run_id = (await latest(client, request.deal_id).describe()).run_id
    await replay_and_record_runs(client, request.deal_id, {"signatory_refused": run_id})


async def test_the_owner_signs_for_the_licensor_only_when_the_deal_allows_it(
    dev_worker: WorkflowEnvironment, task_queue: str
) -> None:
    client = dev_worker.client
    refused = deal_request(licensor_signatory=OWNER)
    allowed = deal_request(licensor_signatory=OWNER, owner_may_sign=True)
    for request in (refused, allowed):
        await start_deal(client, request, task_queue)
        await plan_approved(client, request.deal_id)
        await approve_child(client, request.deal_id)

    blocked = await wait_state(client, refused.deal_id, lambda s: open_task(s, "incident-1"))
    assert blocked.incident is not None and "owns the deal" in blocked.incident
    assert blocked.envelope_id is None
    signing = await wait_state(client, allowed.deal_id, signature_open, what="signature")
    assert OWNER in signing.open_tasks[0].assignees
