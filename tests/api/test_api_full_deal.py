"""A whole deal through the HTTP API on the real stack: dev server, Postgres, real workers.

Short cadences (2-second periods, one contract year of two periods) take the deal from
creation through plan approval, partner approval, signing, two reported periods, a review
and the renewal decision to completion.
"""

from __future__ import annotations

import asyncio
from typing import Any

from api_helpers import Api, assert_problem, decide_ok, eventually, inbox_task
from api_samples import REPORT_LINE, deal, partner

from domain.deal_state import DealOutcome, Stage


async def test_deal_from_creation_to_completion(real_api: Api) -> None:
    api = real_api
    partner_id, contact = api.name("acme"), api.name("acme-ops")
    carol, larry, sam, olivia = (api.name(n) for n in ("carol", "larry", "sam", "olivia"))
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    legal = await api.auth(larry, "approver")
    signatory = await api.auth(sam, "approver")
    licensee = await api.auth(contact, "partner", partner_id=partner_id)

    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, contact), headers=admin
    )
    assert registered.status_code == 201
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory=sam)
    body["partner_approval_chain"][0]["approvers"] = [larry]
    body["schedule"] = {
        "period": "PT2S",
        "periods_per_review": 2,
        "periods_per_year": 2,
        "term_periods": 2,
        "report_grace": "PT3S",
        "decision_sla": "PT30S",
    }
    deal_id = body["deal_id"]
    created = await api.http.post("/v1/deals", json=body, headers=owner)
    assert created.status_code == 201, created.text

    await decide_ok(
        api, planner, await inbox_task(api, planner, "plan_approval"), decision="approve"
    )
    approval = await inbox_task(api, legal, "partner_approval")
    assert approval["deal_id"] == deal_id
    bare_reject = await api.http.post(
        f"/v1/tasks/{approval['task_id']}/decision", json={"decision": "reject"}, headers=legal
    )
    assert "needs a comment" in assert_problem(bare_reject, 422, field="body.comment")["detail"]
    await decide_ok(api, legal, approval, decision="approve", comment="screening passed")

    signing = await inbox_task(api, signatory, "signature")
    first = await decide_ok(api, signatory, signing, decision="sign")
    assert (first["status"], first["envelope_status"]) == ("recorded", "sent")
    second = await decide_ok(
        api, licensee, await inbox_task(api, licensee, "signature"), decision="sign"
    )
    assert second["envelope_status"] == "completed"

    async def state() -> dict[str, Any]:
        resp = await api.http.get(f"/v1/deals/{deal_id}", headers=owner)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def period_status(n: int) -> Any:
        return lambda s: any(p["period"] == n and p["status"] == "checked" for p in s["periods"])

    launched = await eventually(state, lambda s: s["stage"] == "monitoring", within=30)
    assert (launched["partner_id"], launched["launched_at"] is not None) == (partner_id, True)
    for period in (1, 2):
        report = {"period": period, "lines": [REPORT_LINE]}
        sent = await api.http.post(
            f"/v1/deals/{deal_id}/sales-reports", json=report, headers=licensee
        )
        assert sent.status_code == 201, sent.text
        await eventually(state, period_status(period), within=30)

    review = await inbox_task(api, owner, "review_decision")
    await decide_ok(api, owner, review, decision="continue")
    renewal = await inbox_task(api, owner, "renewal_decision")
    await decide_ok(api, owner, renewal, decision="expire", comment="one year is enough")

    final = await eventually(state, lambda s: s["stage"] == "completed", within=30)
    assert [p["kpi_status"] for p in final["periods"]] == ["on_track", "on_track"]
    assert final["open_tasks"] == []
    async with asyncio.timeout(30):  # the run closes after its last activities
        handle = api.client.get_workflow_handle(f"deal-{deal_id}", result_type=DealOutcome)
        outcome = await handle.result()
    assert (outcome.stage, outcome.partner_id) == (Stage.COMPLETED, partner_id)

    statements = (await api.http.get(f"/v1/deals/{deal_id}/statements", headers=owner)).json()
    assert [(s["kind"], s["period"]) for s in statements] == [
        ("period", 1),
        ("period", 2),
        ("true_up", None),
        ("final", None),  # after final accounting (expiry: nothing more owed)
    ]
    assert statements[-1]["amount_due"] == "0.00"
    assert statements[0]["net_sales"] == "50000.00"

    audit = (await api.http.get(f"/v1/deals/{deal_id}/audit", headers=owner)).json()
    actions = [(e["actor"], e["action"]) for e in audit]
    for expected in [
        (olivia, "deal.create"),
        (carol, "task.approve"),
        (larry, "task.approve"),
        (sam, "task.sign"),
        (contact, "task.sign"),
        (contact, "sales_report.submit"),
        (olivia, "task.continue"),
        (olivia, "task.expire"),
        ("licenseflow", "deal.completed"),
    ]:
        assert expected in actions, actions

    listed = await eventually(
        lambda: api.http.get("/v1/deals", params={"stage": "completed"}, headers=owner),
        lambda r: [(d["deal_id"], d["status"]) for d in r.json()] == [(deal_id, "completed")],
    )
    assert listed.json()[0]["closed_at"] is not None


async def test_owner_inputs_are_routed_to_their_updates(real_api: Api) -> None:
    api = real_api
    partner_id, olivia, carol = api.name("acme"), api.name("olivia"), api.name("carol")
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin
    )
    assert registered.status_code == 201
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory="sam")
    needs = body.pop("needs")
    body["schedule"] = {"period": "P1M", "periods_per_year": 12, "term_periods": 12}
    assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201

    needs_task = await inbox_task(api, owner, "needs")
    path = f"/v1/tasks/{needs_task['task_id']}/decision"
    wrong = await api.http.post(path, json={"decision": "approve"}, headers=owner)
    assert_problem(wrong, 422, field="body.decision")
    missing = await api.http.post(path, json={"decision": "submit"}, headers=owner)
    assert_problem(missing, 422, field="body.needs")
    other = await api.http.post(path, json={"decision": "submit", "needs": needs}, headers=planner)
    assert_problem(other, 404)  # not the planner's task: as if it did not exist
    submitted = await decide_ok(api, owner, needs_task, decision="submit", needs=needs)
    assert submitted["state"]["stage"] in ("planning", "needs_analysis")

    plan_task = await inbox_task(api, planner, "plan_approval")
    bare_reject = await api.http.post(
        f"/v1/tasks/{plan_task['task_id']}/decision", json={"decision": "reject"}, headers=planner
    )
    assert "needs a comment" in assert_problem(bare_reject, 422, field="body.comment")["detail"]
    await decide_ok(api, planner, plan_task, decision="reject", comment="promotion budget missing")
    revision = await inbox_task(api, owner, "plan_revision")
    plan = {**body["plan"], "promotion": [{"channel": "social", "budget": 30000}]}
    revised = await decide_ok(api, owner, revision, decision="revise", plan=plan)
    assert revised["state"]["plan_version"] == 2
    second = await inbox_task(api, planner, "plan_approval")
    assert second["task_id"] != plan_task["task_id"]

    ended = await api.http.post(
        f"/v1/deals/{body['deal_id']}/terminate", json={"reason": "budget cut"}, headers=owner
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["stage"] == "terminated"
    stale = await api.http.post(
        f"/v1/tasks/{second['task_id']}/decision", json={"decision": "approve"}, headers=planner
    )
    assert_problem(stale, 409)
