"""A declined signature through the HTTP API on the real stack: the owner's inbox holds the
`signature_decision` task, `resend` sends a new envelope, and both signatories sign it."""

from __future__ import annotations

from typing import Any

from api_helpers import Api, assert_problem, decide_ok, eventually, inbox_task
from api_samples import deal, partner


async def test_owner_resends_a_declined_contract(real_api: Api) -> None:
    api = real_api
    partner_id, contact = api.name("acme"), api.name("acme-ops")
    carol, sam, olivia = (api.name(n) for n in ("carol", "sam", "olivia"))
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    approver = await api.auth(carol, "approver")
    signatory = await api.auth(sam, "approver")
    licensee = await api.auth(contact, "partner", partner_id=partner_id)
    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, contact), headers=admin
    )
    assert registered.status_code == 201
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory=sam)
    deal_id = body["deal_id"]
    created = await api.http.post("/v1/deals", json=body, headers=owner)
    assert created.status_code == 201, created.text

    await decide_ok(
        api, approver, await inbox_task(api, approver, "plan_approval"), decision="approve"
    )
    await decide_ok(
        api, approver, await inbox_task(api, approver, "partner_approval"), decision="approve"
    )
    first = await inbox_task(api, licensee, "signature")
    declined = await decide_ok(api, licensee, first, decision="decline", comment="wrong territory")
    assert declined["envelope_status"] == "declined"

    decision = await inbox_task(api, owner, "signature_decision")
    assert decision["task_id"] == f"deal-{deal_id}:signature-declined-1"
    assert decision["allowed_decisions"] == ["resend", "cancel"]
    assert "wrong territory" in decision["title"]
    path = f"/v1/tasks/{decision['task_id']}/decision"
    # not the approver's task: answered as a task that does not exist
    assert_problem(await api.http.post(path, json={"decision": "resend"}, headers=approver), 404)
    wrong = await api.http.post(path, json={"decision": "approve"}, headers=owner)
    assert_problem(wrong, 422, field="body.decision")
    resent = await decide_ok(api, owner, decision, decision="resend", comment="territory fixed")
    assert resent["status"] == "accepted"

    second = await inbox_task(api, signatory, "signature")
    assert second["task_id"] == f"deal-{deal_id}:signature-2"
    await decide_ok(api, signatory, second, decision="sign")
    signed = await decide_ok(
        api, licensee, await inbox_task(api, licensee, "signature"), decision="sign"
    )
    assert signed["envelope_status"] == "completed"

    async def state() -> dict[str, Any]:
        resp = await api.http.get(f"/v1/deals/{deal_id}", headers=owner)
        assert resp.status_code == 200, resp.text
        return resp.json()

    launched = await eventually(state, lambda s: s["stage"] == "monitoring", within=30)
    assert launched["launched_at"] is not None
    ended = await api.http.post(
        f"/v1/deals/{deal_id}/terminate", json={"reason": "test done"}, headers=owner
    )
    assert ended.status_code == 200, ended.text
