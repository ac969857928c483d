"""The users directory and tokens through the API: admin only, audited; disabled users and
expired or revoked tokens are refused at once; secrets are answered once and never listed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_helpers import Api, assert_problem

from store.tokens import hash_token


async def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    rows = await api.pool.fetch(
        "SELECT actor, action, subject, detail FROM audit_log WHERE action = $1 ORDER BY id",
        action,
    )
    return [dict(r) for r in rows]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_only_admins_manage_users_and_tokens(api: Api) -> None:
    for roles in (("owner",), ("ops",), ("approver",), ("finance",)):
        headers = await api.auth(f"not-admin-{roles[0]}", *roles)
        for method, path, body in (
            ("POST", "/v1/users", {"user_name": "x", "roles": ["admin"]}),
            ("GET", "/v1/users", None),
            ("GET", "/v1/users/ada", None),
            ("PUT", "/v1/users/ada", {"roles": ["ops"]}),
            ("POST", "/v1/users/ada/disable", None),
            ("POST", "/v1/users/ada/enable", None),
            ("GET", "/v1/tokens", None),
            ("POST", "/v1/tokens", {"user_name": f"not-admin-{roles[0]}", "roles": ["admin"]}),
            ("DELETE", "/v1/tokens/tok_0000000000000000", None),
        ):
            resp = await api.http.request(method, path, json=body, headers=headers)
            assert_problem(resp, 403)
    assert_problem(await api.http.get("/v1/users"), 401)
    assert await api.pool.fetchval("SELECT count(*) FROM users WHERE user_name = 'x'") == 0


async def test_admin_adds_lists_reads_and_updates_users(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    body = {"user_name": "erin", "roles": ["approver"], "display_name": "Erin E."}
    created = await api.http.post("/v1/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None} == {
        "user_name": "erin",
        "display_name": "Erin E.",
        "roles": ["approver"],
        "partner_id": None,
        "active": True,
        "created_at": None,
    }
    again = await api.http.post("/v1/users", json=body, headers=admin)
    assert again.status_code == 200
    other = {**body, "roles": ["admin"]}
    assert_problem(await api.http.post("/v1/users", json=other, headers=admin), 409)
    no_partner = {"user_name": "p", "roles": ["partner"]}
    assert_problem(
        await api.http.post("/v1/users", json=no_partner, headers=admin),
        422,
        field="body.partner_id",
    )
    bad_role = {"user_name": "p", "roles": ["boss"]}
    assert_problem(
        await api.http.post("/v1/users", json=bad_role, headers=admin), 422, field="body.roles.0"
    )
    # a partner user may be bound to a partner id not registered yet
    globex = {"user_name": "globex-ops", "roles": ["partner"], "partner_id": "globex"}
    assert (await api.http.post("/v1/users", json=globex, headers=admin)).status_code == 201

    listed = (await api.http.get("/v1/users", headers=admin)).json()
    assert [u["user_name"] for u in listed] == ["ada", "erin", "globex-ops"]
    partners = (await api.http.get("/v1/users", params={"role": "partner"}, headers=admin)).json()
    assert [u["user_name"] for u in partners] == ["globex-ops"]
    assert (await api.http.get("/v1/users/erin", headers=admin)).json()["display_name"] == "Erin E."
    assert_problem(await api.http.get("/v1/users/nobody", headers=admin), 404)

    updated = await api.http.put(
        "/v1/users/erin", json={"roles": ["approver", "owner"]}, headers=admin
    )
    assert updated.json()["roles"] == ["approver", "owner"]
    assert_problem(
        await api.http.put("/v1/users/nobody", json={"roles": ["ops"]}, headers=admin), 404
    )

    adds = await _audit(api, "user.add")
    assert [(r["actor"], r["subject"]) for r in adds] == [("ada", "erin"), ("ada", "globex-ops")]
    assert adds[0]["detail"]["roles"] == ["approver"] and adds[0]["detail"]["request_id"]
    assert [r["subject"] for r in await _audit(api, "user.update")] == ["erin"]


async def test_a_disabled_users_tokens_stop_at_once(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    bob = await api.auth("bob", "approver")
    assert (await api.http.get("/v1/notifications", headers=bob)).status_code == 200

    disabled = await api.http.post("/v1/users/bob/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert_problem(await api.http.get("/v1/notifications", headers=bob), 401)
    assert (await api.http.post("/v1/users/bob/disable", headers=admin)).status_code == 200
    issued = await api.http.post("/v1/tokens", json={"user_name": "bob"}, headers=admin)
    assert_problem(issued, 422, field="body.user_name")

    enabled = await api.http.post("/v1/users/bob/enable", headers=admin)
    assert enabled.json()["active"] is True
    assert (await api.http.get("/v1/notifications", headers=bob)).status_code == 200

    assert_problem(await api.http.post("/v1/users/ada/disable", headers=admin), 409)
    assert_problem(await api.http.post("/v1/users/nobody/disable", headers=admin), 404)
    changes = [(r["action"], r["subject"]) for r in await _audit(api, "user.disable")]
    changes += [(r["action"], r["subject"]) for r in await _audit(api, "user.enable")]
    assert changes == [("user.disable", "bob"), ("user.enable", "bob")]  # once each


async def test_a_removed_role_is_gone_from_every_token(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    both = await api.auth("adam", "admin", "ops")
    assert (await api.http.get("/v1/users", headers=both)).status_code == 200
    await api.http.put("/v1/users/adam", json={"roles": ["ops"]}, headers=admin)
    assert_problem(await api.http.get("/v1/users", headers=both), 403)
    assert (await api.http.get("/v1/notifications", headers=both)).status_code == 200
    await api.http.put("/v1/users/adam", json={"roles": ["ops", "admin"]}, headers=admin)
    assert (await api.http.get("/v1/users", headers=both)).status_code == 200


async def test_admin_issues_lists_and_revokes_tokens(api: Api) -> None:
    admin = await api.auth("ada", "admin")
    await api.user("fiona", "finance", "ops")
    resp = await api.http.post(
        "/v1/tokens", json={"user_name": "fiona", "roles": ["ops"], "ttl": "12h"}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["cache-control"] == "no-store"
    issued = resp.json()
    secret = issued["token"]
    assert secret.startswith("lf_") and issued["roles"] == ["ops"]
    assert issued["status"] == "active" and issued["created_by"] == "ada"
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(hours=11) < expires - datetime.now(UTC) <= timedelta(hours=12)
    assert (await api.http.get("/v1/deals", headers=_bearer(secret))).status_code != 401

    default = await api.http.post("/v1/tokens", json={"user_name": "fiona"}, headers=admin)
    assert default.json()["roles"] == ["finance", "ops"]
    expires = datetime.fromisoformat(default.json()["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)

    for body, field in (
        ({"user_name": "nobody"}, "body.user_name"),
        ({"user_name": "fiona", "roles": ["admin"]}, "body.roles"),
        ({"user_name": "fiona", "ttl": "366d"}, "body.ttl"),
        ({"user_name": "fiona", "ttl": "1y"}, "body.ttl"),
    ):
        assert_problem(
            await api.http.post("/v1/tokens", json=body, headers=admin), 422, field=field
        )

    listing = await api.http.get("/v1/tokens", params={"user_name": "fiona"}, headers=admin)
    assert listing.status_code == 200
    rows = listing.json()
    assert {r["token_id"] for r in rows} == {issued["token_id"], default.json()["token_id"]}
    assert "token" not in rows[0] and "token_hash" not in rows[0]
    everything = (await api.http.get("/v1/tokens", headers=admin)).text
    assert secret not in everything and hash_token(secret) not in everything
    assert len((await api.http.get("/v1/tokens", headers=admin)).json()) == 3  # with ada's

    revoked = await api.http.delete(f"/v1/tokens/{issued['token_id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert_problem(await api.http.get("/v1/deals", headers=_bearer(secret)), 401)
    again = await api.http.delete(f"/v1/tokens/{issued['token_id']}", headers=admin)
    assert again.status_code == 200
    assert_problem(await api.http.delete("/v1/tokens/tok_0000000000000000", headers=admin), 404)

    created = await _audit(api, "token.create")
    assert [(r["actor"], r["subject"]) for r in created] == [
        ("ada", issued["token_id"]),
        ("ada", default.json()["token_id"]),
    ]
    assert created[0]["detail"]["user"] == "fiona" and secret not in str(created[0]["detail"])
    assert [r["subject"] for r in await _audit(api, "token.revoke")] == [issued["token_id"]]


async def test_an_expired_token_is_401_like_an_unknown_one(api: Api) -> None:
    headers = await api.auth("oscar", "ops")
    assert (await api.http.get("/v1/notifications", headers=headers)).status_code == 200
    token = headers["Authorization"].removeprefix("Bearer ")
    await api.pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hash_token(token),
    )
    expired = await api.http.get("/v1/notifications", headers=headers)
    unknown = await api.http.get("/v1/notifications", headers=_bearer("lf_unknown"))
    assert_problem(expired, 401)
    assert expired.json()["detail"] == assert_problem(unknown, 401)["detail"]
