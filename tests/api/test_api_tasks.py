"""The task inbox and decisions routed to deal updates, partner approvals and signing."""

from __future__ import annotations

from typing import Any

from api_helpers import Api, assert_problem, eventually
from api_samples import deal, partner
from api_stubs import StubDeal
from temporalio.client import WorkflowHandle

from domain.approval import ApprovalStep, PartnerApprovalInput
from domain.common import LicensedScope
from domain.deal import DealRequest
from domain.deal_state import DealRunInput, DealState
from domain.ids import partner_approval_id
from domain.partner import PartnerProfile
from store import envelopes


async def _deal(api: Api, *, signatories: list[str] | None = None) -> dict[str, Any]:
    """A started stand-in deal (and its local envelope); returns the request body."""
    partner_id = api.name("acme")
    admin = await api.auth("ada", "admin")
    body = partner(partner_id, "acme-ops")
    assert (await api.http.post("/v1/partners", json=body, headers=admin)).status_code == 201
    request = deal(
        api.name("moon"),
        partner_id=partner_id,
        approver=api.name("carol"),
        signatory=api.name("sam"),
    )
    owner = await api.auth(api.name("olivia"), "owner")
    assert (await api.http.post("/v1/deals", json=request, headers=owner)).status_code == 201
    await envelopes.create(
        api.pool,
        envelope_id=f"env-{request['deal_id']}",
        idempotency_key=f"deal-{request['deal_id']}:signature-1",
        deal_id=request["deal_id"],
        workflow_id=f"deal-{request['deal_id']}",
        provider="local",
        signatories=signatories or [api.name("sam")],
        document={"title": request["title"]},
    )
    return request


async def _inbox(api: Api, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        resp = await api.http.get("/v1/tasks", headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    return await eventually(fetch, lambda tasks: len(tasks) == count)


def _deal_handle(api: Api, deal_id: str) -> WorkflowHandle[Any, Any]:
    return api.client.get_workflow_handle(f"deal-{deal_id}")


async def _history(api: Api, deal_id: str) -> list[str]:
    state = await _deal_handle(api, deal_id).query("state", result_type=DealState)
    return [f"{h.event}:{h.by or ''}:{h.detail or ''}" for h in state.history]


async def test_inbox_lists_only_the_callers_open_tasks(stub_api: Api) -> None:
    request = await _deal(stub_api)
    carol = await stub_api.auth(stub_api.name("carol"), "approver")
    sam = await stub_api.auth(stub_api.name("sam"), "owner")

    [plan] = await _inbox(stub_api, carol, 1)
    assert plan["task_id"] == f"deal-{request['deal_id']}:plan-approval"
    assert (plan["kind"], plan["deal_id"], plan["allowed_decisions"]) == (
        "plan_approval",
        request["deal_id"],
        ["approve", "reject"],
    )
    assert set(plan) == {"task_id", "kind", "deal_id", "title", "due_at", "allowed_decisions"}
    [signature] = await _inbox(stub_api, sam, 1)
    assert signature["kind"] == "signature"
    nobody = await stub_api.auth(stub_api.name("una"), "approver")
    assert (await stub_api.http.get("/v1/tasks", headers=nobody)).json() == []


async def test_deal_task_decisions_are_validated_by_the_workflow(stub_api: Api) -> None:
    request = await _deal(stub_api)
    task_id = f"deal-{request['deal_id']}:plan-approval"
    path = f"/v1/tasks/{task_id}/decision"
    carol = await stub_api.auth(stub_api.name("carol"), "approver")

    other = await stub_api.auth(stub_api.name("una"), "approver")
    # not assigned: answered as a task that does not exist (api/task_access.py)
    assert_problem(await stub_api.http.post(path, json={"decision": "approve"}, headers=other), 404)
    ops = await stub_api.auth("oscar", "ops")
    assert_problem(await stub_api.http.post(path, json={"decision": "approve"}, headers=ops), 403)
    maybe = await stub_api.http.post(path, json={"decision": "maybe"}, headers=carol)
    assert "decision must be one of" in assert_problem(maybe, 422)["detail"]
    # `sign` is for signature tasks (they have an envelope); here the workflow refuses it
    sign = await stub_api.http.post(path, json={"decision": "sign"}, headers=carol)
    assert_problem(sign, 422, field="body.decision")
    assert_problem(
        await stub_api.http.post(path, json={"decision": "approve", "extra": 1}, headers=carol),
        422,
        field="body.extra",
    )
    assert_problem(
        await stub_api.http.post(
            "/v1/tasks/no-colon/decision", json={"decision": "approve"}, headers=carol
        ),
        404,
    )
    assert_problem(
        await stub_api.http.post(
            "/v1/tasks/deal-ghost:x/decision", json={"decision": "approve"}, headers=carol
        ),
        404,
    )
    unknown_task = f"deal-{request['deal_id']}:no-such-task"
    assert_problem(
        await stub_api.http.post(
            f"/v1/tasks/{unknown_task}/decision", json={"decision": "approve"}, headers=carol
        ),
        404,
    )

    ok = await stub_api.http.post(
        path, json={"decision": "approve", "comment": "fine"}, headers=carol
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "accepted"
    assert task_id not in {t["task_id"] for t in ok.json()["state"]["open_tasks"]}
    again = await stub_api.http.post(path, json={"decision": "approve"}, headers=carol)
    assert "closed already" in assert_problem(again, 409)["detail"]

    rows = await stub_api.pool.fetch(
        "SELECT actor, action, subject FROM audit_log WHERE action LIKE 'task.%'"
    )
    assert [(r["actor"], r["action"], r["subject"]) for r in rows] == [
        (stub_api.name("carol"), "task.approve", task_id)
    ]


async def test_partner_approval_decisions_go_to_its_workflow(stub_api: Api) -> None:
    deal_id, partner_id = stub_api.name("moon"), stub_api.name("acme")
    larry = stub_api.name("larry")
    profile = PartnerProfile.model_validate(partner(partner_id, "acme-ops"))
    workflow_id = partner_approval_id(deal_id, partner_id)
    await stub_api.client.start_workflow(
        "PartnerApproval",
        PartnerApprovalInput(
            deal_id=deal_id,
            partner=profile,
            scope=LicensedScope(categories=["apparel"], territories=["DE"], channels=["online"]),
            requester="olivia",
            chain=[ApprovalStep(step="legal", approvers=[larry])],
        ),
        id=workflow_id,
        task_queue=stub_api.settings.task_queue,
    )
    headers = await stub_api.auth(larry, "approver")
    [task] = await _inbox(stub_api, headers, 1)
    assert (task["kind"], task["deal_id"]) == ("partner_approval", deal_id)
    path = f"/v1/tasks/{task['task_id']}/decision"

    assert_problem(
        await stub_api.http.post(path, json={"decision": "maybe"}, headers=headers),
        422,
        field="body.decision",
    )
    delegate = await stub_api.http.post(path, json={"decision": "delegate"}, headers=headers)
    assert "delegate_to" in assert_problem(delegate, 422)["detail"]
    other = await stub_api.auth(stub_api.name("una"), "approver")
    assert_problem(await stub_api.http.post(path, json={"decision": "approve"}, headers=other), 404)

    ok = await stub_api.http.post(path, json={"decision": "approve"}, headers=headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"]["status"] == "approved"
    await stub_api.client.get_workflow_handle(workflow_id).result()
    late = await stub_api.http.post(path, json={"decision": "reject"}, headers=headers)
    assert "finished" in assert_problem(late, 409)["detail"]


async def test_local_signing_completes_the_envelope_and_signals_the_deal(stub_api: Api) -> None:
    request = await _deal(stub_api)
    deal_id, sam = request["deal_id"], stub_api.name("sam")
    path = f"/v1/tasks/deal-{deal_id}:signature-1/decision"
    headers = await stub_api.auth(sam, "owner")

    carol = await stub_api.auth(stub_api.name("carol"), "approver")
    assert_problem(await stub_api.http.post(path, json={"decision": "sign"}, headers=carol), 404)
    assert_problem(
        await stub_api.http.post(path, json={"decision": "approve"}, headers=headers),
        422,
        field="body.decision",
    )

    signed = await stub_api.http.post(path, json={"decision": "sign"}, headers=headers)
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["envelope_status"]) == ("recorded", "completed")
    history = await eventually(
        lambda: _history(stub_api, deal_id), lambda h: any("signature_completed" in e for e in h)
    )
    assert f"signature_completed:{sam}:env-{deal_id}" in history

    repeat = await stub_api.http.post(path, json={"decision": "sign"}, headers=headers)
    assert repeat.json()["status"] == "duplicate"
    envelope = await envelopes.get(stub_api.pool, f"env-{deal_id}")
    assert envelope is not None
    assert (envelope["status"], envelope["signed_by"]) == ("completed", [sam])


async def test_partial_signing_waits_and_a_decline_signals(stub_api: Api) -> None:
    sam = stub_api.name("sam")
    request = await _deal(stub_api, signatories=[sam, "acme-ops"])
    deal_id = request["deal_id"]
    path = f"/v1/tasks/deal-{deal_id}:signature-1/decision"
    headers = await stub_api.auth(sam, "owner")

    signed = await stub_api.http.post(path, json={"decision": "sign"}, headers=headers)
    assert (signed.json()["status"], signed.json()["envelope_status"]) == ("recorded", "sent")
    assert not any("signature" in e for e in await _history(stub_api, deal_id))

    envelope = await envelopes.get(stub_api.pool, f"env-{deal_id}")
    assert envelope is not None and envelope["signed_by"] == [sam]


async def test_decisions_reach_only_deal_and_partner_approval_workflows(stub_api: Api) -> None:
    """A task id names its workflow; ids outside `deal-`/`partner-approval-` are unknown (404)
    even when some other workflow with a matching update runs under that id."""
    request = deal(
        stub_api.name("side"), partner_id="acme", approver=stub_api.name("carol"), signatory="sam"
    )
    other = f"backoffice-{stub_api.uid}"
    await stub_api.client.start_workflow(
        StubDeal.run,
        DealRunInput(request=DealRequest.model_validate(request)),
        id=other,
        task_queue=stub_api.settings.task_queue,
    )
    approver = await stub_api.auth(stub_api.name("carol"), "approver")
    resp = await stub_api.http.post(
        f"/v1/tasks/{other}:plan-approval/decision",
        json={"decision": "approve"},
        headers=approver,
    )
    assert_problem(resp, 404)


async def test_ops_tokens_decide_incident_tasks_only(stub_api: Api) -> None:
    ops = await stub_api.auth("oscar", "ops")
    plan = await stub_api.http.post(
        "/v1/tasks/deal-nowhere:plan-v1/decision", json={"decision": "approve"}, headers=ops
    )
    assert "read-only" in assert_problem(plan, 403)["detail"]
    incident = await stub_api.http.post(
        "/v1/tasks/deal-nowhere:incident-1/decision", json={"decision": "retry"}, headers=ops
    )
    assert_problem(incident, 404)  # allowed to try; the workflow answers (here: no such deal)
