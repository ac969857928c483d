"""Authentication, problem documents, request ids, health and partner profiles."""

from __future__ import annotations

from api_helpers import Api, assert_problem
from api_samples import partner
from polling import eventually


async def test_health_needs_no_token_and_readyz_checks_all_three(api: Api) -> None:
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    no_worker = await api.http.get("/readyz")
    assert no_worker.status_code == 503
    assert no_worker.json()["checks"] == {
        "postgres": "ok",
        "temporal": "ok",
        "worker": f"error: no worker polls task queue {api.settings.task_queue}",
    }


async def test_readyz_is_ready_while_a_worker_polls(stub_api: Api) -> None:
    """A worker's first poll shows in Temporal a moment after it starts."""
    ready = await eventually(
        lambda: stub_api.http.get("/readyz"), lambda r: r.status_code == 200, within=10
    )
    assert ready.json()["checks"] == {"postgres": "ok", "temporal": "ok", "worker": "ok"}


async def test_missing_or_unknown_token_is_401_problem(api: Api) -> None:
    missing = await api.http.get("/v1/tasks")
    assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await api.http.get("/v1/tasks", headers={"Authorization": "Bearer lf_nope"})
    assert_problem(wrong, 401)
    basic = await api.http.get("/v1/tasks", headers={"Authorization": "Basic abc"})
    assert_problem(basic, 401)


async def test_revoked_token_is_401(api: Api) -> None:
    from store.tokens import revoke

    headers = await api.auth("olivia", "owner")
    assert (await api.http.get("/v1/partners/none", headers=headers)).status_code == 404
    await revoke(api.pool, headers["Authorization"].removeprefix("Bearer "))
    assert_problem(await api.http.get("/v1/partners/none", headers=headers), 401)


async def test_request_id_is_made_by_the_server_and_in_problems(api: Api) -> None:
    """A client's X-Request-ID is never the request id (it is kept as client_request_id,
    tests/api/test_api_edge.py)."""
    resp = await api.http.get("/v1/deals/x", headers={"X-Request-ID": "req-123"})
    request_id = resp.headers["x-request-id"]
    assert request_id != "req-123" and len(request_id) == 32
    assert assert_problem(resp, 401)["request_id"] == request_id
    again = await api.http.get("/healthz", headers={"X-Request-ID": request_id})
    assert again.headers["x-request-id"] not in (request_id, "")


async def test_partner_registration_and_read_rules(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    body = partner("acme", "acme-ops")

    created = await api.http.post("/v1/partners", json=body, headers=admin)
    assert created.status_code == 201
    assert created.json()["partner_id"] == "acme"
    assert_problem(await api.http.post("/v1/partners", json=body, headers=admin), 409)
    approver = await api.auth("carol", "approver")
    assert_problem(
        await api.http.post("/v1/partners", json=partner("b", "b"), headers=approver), 403
    )

    own = await api.auth("acme-ops", "partner", partner_id="acme")
    other = await api.auth("zeta-ops", "partner", partner_id="zeta")
    assert (await api.http.get("/v1/partners/acme", headers=own)).json()["name"] == body["name"]
    # another partner, or an approver with no deal naming it: as if it did not exist
    # (the whole read matrix: tests/api/test_api_least_privilege.py)
    assert_problem(await api.http.get("/v1/partners/acme", headers=other), 404)
    assert_problem(await api.http.get("/v1/partners/acme", headers=approver), 404)
    assert_problem(await api.http.get("/v1/partners/nobody", headers=admin), 404)

    audit = await api.pool.fetch(
        "SELECT actor, action, subject FROM audit_log WHERE action <> 'access.denied'"
    )
    assert [(r["actor"], r["action"], r["subject"]) for r in audit] == [
        ("ada", "partner.create", "acme")
    ]
    denied = await api.pool.fetch(
        "SELECT actor, subject, detail FROM audit_log WHERE action = 'access.denied' ORDER BY id"
    )
    rows = [(r["actor"], r["subject"], r["detail"]["status"]) for r in denied]
    assert rows[0] == ("carol", "/v1/partners", 403)
    # reads refused as 404 are recorded only once the denial audit counts hidden denials
    # (`request.state.hidden_denial`, set by api/routes/partners.py)
    assert set(rows[1:]) <= {
        ("zeta-ops", "/v1/partners/acme", 404),
        ("carol", "/v1/partners/acme", 404),
    }


async def test_invalid_partner_names_each_failing_field(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    body = partner("acme", "acme-ops")
    body["email"] = "not-an-email"
    body["evaluation"]["cost"] = 9
    body["surprise"] = True
    problem = assert_problem(
        await api.http.post("/v1/partners", json=body, headers=admin), 422, field="body.email"
    )
    fields = {e["field"] for e in problem["errors"]}
    assert {"body.email", "body.evaluation.cost", "body.surprise"} <= fields
