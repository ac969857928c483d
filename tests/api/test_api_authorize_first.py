"""Authorization before validation: on every write route a caller without the role or the
ownership it needs gets 401/403 (404 for a task it may not decide: it answers as an unknown
one), never 422, even when its body is invalid or not JSON (`api/gates.py`,
`api/routing.py`)."""

from __future__ import annotations

from typing import Any

from api_helpers import Api, assert_problem, eventually
from api_samples import deal, partner

INVALID = {"surprise": True, "deal_id": 5, "decision": ["x"], "reason": "", "amount": "many"}
NOT_JSON = b'{"reason": "x", oops'
JSON = {"Content-Type": "application/json"}


async def _post(api: Api, path: str, headers: dict[str, str] | None, *, raw: bool = False) -> Any:
    if raw:
        return await api.http.post(path, content=NOT_JSON, headers={**(headers or {}), **JSON})
    return await api.http.post(path, json=INVALID, headers=headers or {})


async def _refused(api: Api, path: str, headers: dict[str, str] | None, status: int) -> None:
    """`status` for an invalid body and for a body that is not JSON."""
    for raw in (False, True):
        assert_problem(await _post(api, path, headers, raw=raw), status)


async def _stub_deal(api: Api) -> dict[str, Any]:
    """A stand-in deal of olivia's with partner acme, approver carol, signatory sam."""
    partner_id = api.name("acme")
    admin = await api.auth("ada", "admin")
    registration = partner(partner_id, api.name("acme-ops"))
    assert (
        await api.http.post("/v1/partners", json=registration, headers=admin)
    ).status_code == 201
    body = deal(
        api.name("moon"),
        partner_id=partner_id,
        approver=api.name("carol"),
        signatory=api.name("sam"),
    )
    owner = await api.auth(api.name("olivia"), "owner")
    created = await api.http.post("/v1/deals", json=body, headers=owner)
    assert created.status_code == 201, created.text
    return body


async def test_creating_a_deal(api: Api) -> None:
    await _refused(api, "/v1/deals", None, 401)
    await _refused(api, "/v1/deals", {"Authorization": "Bearer lf_unknown"}, 401)
    await _refused(api, "/v1/deals", await api.auth("carol", "approver"), 403)
    await _refused(api, "/v1/deals", await api.auth("acme-ops", "partner", partner_id="a"), 403)
    owner = await api.auth("olivia", "owner")
    assert_problem(await _post(api, "/v1/deals", owner), 422, field="body.deal_id")
    not_json = assert_problem(await _post(api, "/v1/deals", owner, raw=True), 422)
    assert not_json["errors"] == [
        {"field": "body.16", "message": "JSON decode error", "type": "json_invalid"}
    ]


async def test_registering_a_partner(api: Api) -> None:
    await _refused(api, "/v1/partners", None, 401)
    await _refused(api, "/v1/partners", await api.auth("carol", "approver"), 403)
    await _refused(api, "/v1/partners", await api.auth("fiona", "finance"), 403)
    admin = await api.auth("ada", "admin")
    assert_problem(await _post(api, "/v1/partners", admin), 422, field="body.surprise")


async def test_recording_a_payment(api: Api) -> None:
    path = "/v1/statements/moon:y1:p1/payments"
    await _refused(api, path, None, 401)
    await _refused(api, path, await api.auth("olivia", "owner"), 403)
    await _refused(api, path, await api.auth("acme-ops", "partner", partner_id="acme"), 403)
    finance = await api.auth("fiona", "finance")
    assert_problem(await _post(api, path, finance), 422, field="body.amount")


async def test_terminating_a_deal(stub_api: Api) -> None:
    body = await _stub_deal(stub_api)
    path = f"/v1/deals/{body['deal_id']}/terminate"
    await _refused(stub_api, path, None, 401)
    await _refused(stub_api, path, await stub_api.auth("otto", "owner"), 403)  # not its owner
    await _refused(stub_api, path, await stub_api.auth(stub_api.name("carol"), "approver"), 403)
    ops = await stub_api.auth("oscar", "ops")
    await _refused(stub_api, path, ops, 403)
    await _refused(stub_api, f"/v1/deals/{stub_api.name('none')}/terminate", ops, 404)
    owner = await stub_api.auth(stub_api.name("olivia"), "owner")
    assert_problem(await _post(stub_api, path, owner), 422, field="body.reason")


async def test_reporting_sales(stub_api: Api) -> None:
    body = await _stub_deal(stub_api)
    path = f"/v1/deals/{body['deal_id']}/sales-reports"
    await _refused(stub_api, path, None, 401)
    other = await stub_api.auth("zeta-ops", "partner", partner_id=stub_api.name("zeta"))
    await _refused(stub_api, path, other, 403)
    await _refused(stub_api, path, await stub_api.auth(stub_api.name("olivia"), "owner"), 403)
    own = await stub_api.auth(
        stub_api.name("acme-ops"), "partner", partner_id=stub_api.name("acme")
    )
    assert_problem(await _post(stub_api, path, own), 422, field="body.surprise")


async def test_deciding_a_task(stub_api: Api) -> None:
    body = await _stub_deal(stub_api)
    task_id = f"deal-{body['deal_id']}:plan-approval"
    path = f"/v1/tasks/{task_id}/decision"
    carol = await stub_api.auth(stub_api.name("carol"), "approver")

    async def carols_inbox() -> list[str]:
        resp = await stub_api.http.get("/v1/tasks", headers=carol)
        return [t["task_id"] for t in resp.json()]

    await eventually(carols_inbox, lambda ids: task_id in ids)
    await _refused(stub_api, path, None, 401)
    await _refused(stub_api, path, await stub_api.auth("oscar", "ops"), 403)  # read-only
    # a task the caller is not assigned to is, as an unknown one, a 404 (api/task_access.py)
    dave = await stub_api.auth(stub_api.name("dave"), "approver")
    await _refused(stub_api, path, dave, 404)
    refused = await stub_api.http.post(path, json={"decision": "approve"}, headers=dave)
    assert_problem(refused, 404)  # the same answer for a valid body
    assert_problem(await _post(stub_api, path, carol), 422, field="body.surprise")
    assert_problem(await _post(stub_api, path, carol, raw=True), 422)
    decided = await stub_api.http.post(path, json={"decision": "approve"}, headers=carol)
    assert decided.status_code == 200, decided.text


async def test_the_webhook_checks_its_signature_first(api: Api) -> None:
    await _refused(api, "/v1/webhooks/esign", None, 401)


async def test_the_users_and_tokens_directory(api: Api) -> None:
    owner = await api.auth("olivia", "owner")
    admin = await api.auth("ada", "admin")
    for path in ("/v1/users", "/v1/tokens"):
        await _refused(api, path, None, 401)
        await _refused(api, path, owner, 403)
        assert_problem(await _post(api, path, admin), 422)
    invalid = await api.http.put("/v1/users/bob", json=INVALID, headers=owner)
    assert_problem(invalid, 403)
    not_json = await api.http.put("/v1/users/bob", content=NOT_JSON, headers={**owner, **JSON})
    assert_problem(not_json, 403)
