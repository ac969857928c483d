"""Deals through the API, routed to stand-in workflows on the dev server."""

from __future__ import annotations

import copy
from typing import Any

from api_helpers import Api, assert_problem, audit_row, eventually
from api_samples import deal, partner


async def _setup(api: Api) -> tuple[dict[str, Any], dict[str, str], str]:
    """Register the partner; return a deal body, its owner's headers and the partner id."""
    partner_id = api.name("acme")
    admin = await api.auth("ada", "admin")
    resp = await api.http.post("/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin)
    assert resp.status_code == 201
    body = deal(
        api.name("moon"),
        partner_id=partner_id,
        approver=api.name("carol"),
        signatory=api.name("sam"),
    )
    return body, await api.auth(api.name("olivia"), "owner"), partner_id


async def test_create_is_idempotent_per_body(stub_api: Api) -> None:
    body, owner, _ = await _setup(stub_api)

    created = await stub_api.http.post("/v1/deals", json=body, headers=owner)
    assert created.status_code == 201, created.text
    ids = created.json()
    assert ids["deal_id"] == body["deal_id"]
    assert ids["workflow_id"] == f"deal-{body['deal_id']}"

    again = await stub_api.http.post("/v1/deals", json=body, headers=owner)
    assert again.status_code == 200
    assert again.json() == ids

    changed = copy.deepcopy(body)
    changed["title"] = "Moon Bear apparel EU (v2)"
    assert_problem(await stub_api.http.post("/v1/deals", json=changed, headers=owner), 409)

    desc = await stub_api.client.get_workflow_handle(ids["workflow_id"]).describe()
    assert await desc.static_summary() == f"{body['title']} — owner {stub_api.name('olivia')}"
    await audit_row(stub_api, body["deal_id"], "deal.create")
    rows = await stub_api.pool.fetch(
        "SELECT actor, action FROM audit_log WHERE deal_id = $1", body["deal_id"]
    )
    assert [(r["actor"], r["action"]) for r in rows] == [(stub_api.name("olivia"), "deal.create")]


async def test_create_audit_row_is_written_by_the_workflow(stub_api: Api) -> None:
    body, owner, _ = await _setup(stub_api)
    request_id = stub_api.name("req")

    created = await stub_api.http.post(
        "/v1/deals", json=body, headers={**owner, "X-Request-ID": request_id}
    )
    assert created.status_code == 201, created.text
    server_id = created.headers["x-request-id"]  # the server's own, never the client's
    assert server_id != request_id

    row = await audit_row(stub_api, body["deal_id"], "deal.create")
    assert row["actor"] == stub_api.name("olivia")
    assert row["workflow_id"] == created.json()["workflow_id"]
    assert row["detail"]["request_id"] == server_id
    assert row["detail"]["run_id"] == created.json()["run_id"]
    assert len(row["detail"]["request_hash"]) == 64
    stored = await stub_api.pool.fetchrow(
        "SELECT owner, request_hash FROM deals WHERE deal_id = $1", body["deal_id"]
    )
    assert stored is not None
    assert (stored["owner"], stored["request_hash"]) == (
        stub_api.name("olivia"),
        row["detail"]["request_hash"],
    )


async def test_create_validation_names_the_field(stub_api: Api) -> None:
    body, owner, _ = await _setup(stub_api)

    unknown = copy.deepcopy(body)
    unknown["partners"] = [body["partners"][0], "ghost-partner"]
    assert_problem(
        await stub_api.http.post("/v1/deals", json=unknown, headers=owner),
        422,
        field="body.partners.1",
    )
    bad_rate = copy.deepcopy(body)
    bad_rate["terms"]["royalty_tiers"][0]["rate"] = 1.5
    assert_problem(
        await stub_api.http.post("/v1/deals", json=bad_rate, headers=owner),
        422,
        field="body.terms.royalty_tiers.0.rate",
    )
    bad_right = copy.deepcopy(body)
    bad_right["property"]["rights"] = ["brand", "music"]
    assert_problem(
        await stub_api.http.post("/v1/deals", json=bad_right, headers=owner),
        422,
        field="body.property.rights.1",
    )
    bad_objective = copy.deepcopy(body)
    bad_objective["needs"]["objectives"][0]["kind"] = "fame"
    assert_problem(
        await stub_api.http.post("/v1/deals", json=bad_objective, headers=owner),
        422,
        field="body.needs.objectives.0.kind",
    )


async def test_only_owners_and_admins_create_and_only_for_themselves(stub_api: Api) -> None:
    body, owner, _ = await _setup(stub_api)
    approver = await stub_api.auth(stub_api.name("carol"), "approver")
    assert_problem(await stub_api.http.post("/v1/deals", json=body, headers=approver), 403)
    for_someone_else = {**body, "owner": "mallory"}
    assert_problem(await stub_api.http.post("/v1/deals", json=for_someone_else, headers=owner), 403)
    assert_problem(await stub_api.http.post("/v1/deals", json=body), 401)


async def test_read_rules_per_principal(stub_api: Api) -> None:
    body, owner, partner_id = await _setup(stub_api)
    deal_id = body["deal_id"]
    assert (await stub_api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    path = f"/v1/deals/{deal_id}"

    mine = (await stub_api.http.get(path, headers=owner)).json()
    assert (mine["deal_id"], mine["owner"], mine["stage"]) == (
        deal_id,
        stub_api.name("olivia"),
        "monitoring",
    )
    assert {t["kind"] for t in mine["open_tasks"]} == {"plan_approval", "signature"}

    readers = [
        await stub_api.auth("oscar", "ops"),
        await stub_api.auth("ada", "admin"),
        await stub_api.auth("acme-ops", "partner", partner_id=partner_id),
        await stub_api.auth(stub_api.name("carol"), "approver"),
    ]
    for headers in readers:
        assert (await stub_api.http.get(path, headers=headers)).status_code == 200
    outsiders = [
        await stub_api.auth("otto", "owner"),
        await stub_api.auth("zeta-ops", "partner", partner_id="zeta"),
        await stub_api.auth("una", "approver"),
    ]
    for headers in outsiders:
        assert_problem(await stub_api.http.get(path, headers=headers), 403)
        assert_problem(await stub_api.http.get(path + "/statements", headers=headers), 403)
    assert_problem(await stub_api.http.get("/v1/deals/no-such-deal", headers=owner), 404)
    assert_problem(await stub_api.http.get("/v1/deals/NOT_AN_ID", headers=owner), 422)


async def test_partner_sees_its_part_of_the_deal_only(stub_api: Api) -> None:
    body, owner, partner_id = await _setup(stub_api)
    assert (await stub_api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    path = f"/v1/deals/{body['deal_id']}"

    full = (await stub_api.http.get(path, headers=await stub_api.auth("oscar", "ops"))).json()
    assert full["request"]["partner_approval_chain"] and full["open_tasks"]
    licensee = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    seen = (await stub_api.http.get(path, headers=licensee)).json()

    assert seen["request"] is None  # no approval chain, approvers or other candidates
    assert seen["history"] == []
    assert seen["open_tasks"] == []  # the open tasks are the licensor's
    assert (seen["stage"], seen["plan"], seen["periods"]) == (
        full["stage"], full["plan"], full["periods"],
    )  # fmt: skip


async def test_list_deals_is_narrowed_and_filtered(stub_api: Api) -> None:
    body, owner, partner_id = await _setup(stub_api)
    assert (await stub_api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    other_owner = await stub_api.auth(stub_api.name("otto"), "owner")
    second = {**body, "deal_id": stub_api.name("sun")}
    assert (
        await stub_api.http.post("/v1/deals", json=second, headers=other_owner)
    ).status_code == 201

    async def listing(headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
        resp = await stub_api.http.get("/v1/deals", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        return resp.json()

    mine = await eventually(lambda: listing(owner, stage="monitoring"), lambda rows: len(rows) == 1)
    assert mine[0]["deal_id"] == body["deal_id"]
    assert (mine[0]["owner"], mine[0]["partner_id"]) == (stub_api.name("olivia"), partner_id)

    ops = await stub_api.auth("oscar", "ops")
    both = await eventually(
        lambda: listing(ops, partner_id=partner_id, stage="monitoring"), lambda r: len(r) == 2
    )
    assert {r["deal_id"] for r in both} == {body["deal_id"], second["deal_id"]}
    # an owner filtering for someone else's deals still sees only their own (none)
    assert await listing(owner, owner=stub_api.name("otto")) == []
    assert_problem(
        await stub_api.http.get("/v1/deals", params={"owner": "x' OR '1'='1"}, headers=ops),
        422,
        field="query.owner",
    )
    assert_problem(
        await stub_api.http.get("/v1/deals", params={"stage": "paused"}, headers=ops),
        422,
        field="query.stage",
    )


async def test_terminate_rules_and_audit(stub_api: Api) -> None:
    body, owner, partner_id = await _setup(stub_api)
    deal_id = body["deal_id"]
    assert (await stub_api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    await audit_row(stub_api, deal_id, "deal.create")  # written by the workflow, not the API
    path = f"/v1/deals/{deal_id}/terminate"

    for headers in (
        await stub_api.auth("otto", "owner"),
        await stub_api.auth("oscar", "ops"),
        await stub_api.auth("acme-ops", "partner", partner_id=partner_id),
    ):
        assert_problem(await stub_api.http.post(path, json={"reason": "x"}, headers=headers), 403)
    assert_problem(
        await stub_api.http.post(path, json={"reason": ""}, headers=owner), 422, field="body.reason"
    )
    assert_problem(
        await stub_api.http.post("/v1/deals/ghost/terminate", json={"reason": "x"}, headers=owner),
        404,
    )

    done = await stub_api.http.post(path, json={"reason": "brand refresh"}, headers=owner)
    assert done.status_code == 200, done.text
    assert done.json()["stage"] == "terminated"
    again = await stub_api.http.post(path, json={"reason": "twice"}, headers=owner)
    assert "finished" in assert_problem(again, 409)["detail"]

    log = await stub_api.http.get(f"/v1/deals/{deal_id}/audit", headers=owner)
    assert [e["action"] for e in log.json()] == ["deal.create", "deal.terminate"]
    assert log.json()[1]["detail"]["reason"] == "brand refresh"
    assert (
        await stub_api.http.get(
            f"/v1/deals/{deal_id}/audit", headers=await stub_api.auth("oscar", "ops")
        )
    ).status_code == 200
    partner_headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    assert_problem(
        await stub_api.http.get(f"/v1/deals/{deal_id}/audit", headers=partner_headers), 403
    )


async def test_statements_come_from_postgres(stub_api: Api) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from store import statements

    body, owner, _ = await _setup(stub_api)
    deal_id = body["deal_id"]
    assert (await stub_api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    await statements.insert(
        stub_api.pool,
        statement_id=f"{deal_id}:p1",
        deal_id=deal_id,
        kind="period",
        contract_year=1,
        period=1,
        net_sales=Decimal("50000.00"),
        royalty_earned=Decimal("4000.00"),
        guaranteed_due=Decimal(0),
        amount_due=Decimal("0.00"),
        currency="EUR",
        issued_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    rows = (await stub_api.http.get(f"/v1/deals/{deal_id}/statements", headers=owner)).json()
    assert [(r["statement_id"], r["royalty_earned"]) for r in rows] == [
        (f"{deal_id}:p1", "4000.00")
    ]
