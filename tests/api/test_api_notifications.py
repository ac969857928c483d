"""GET /v1/notifications: the caller's own notifications, newest first."""

from __future__ import annotations

from api_helpers import Api, assert_problem

from store import notifications


async def _queue(api: Api, recipient: str, n: int) -> None:
    for i in range(n):
        await notifications.enqueue(
            api.pool,
            idempotency_key=f"{recipient}-{i}",
            recipient=recipient,
            kind="reminder",
            subject=f"{recipient} reminder {i}",
            body=f"body {i}",
            deal_id="moonbear-eu",
        )


async def test_caller_sees_only_own_notifications_newest_first(api: Api) -> None:
    await _queue(api, "carol", 3)
    await _queue(api, "bob", 2)
    await notifications.mark_sent(
        api.pool, await api.pool.fetchval("SELECT min(id) FROM notifications")
    )

    resp = await api.http.get("/v1/notifications", headers=await api.auth("carol", "approver"))

    assert resp.status_code == 200, resp.text
    rows = resp.json()
    assert [r["subject"] for r in rows] == [f"carol reminder {i}" for i in (2, 1, 0)]
    assert set(rows[0]) == {
        "id", "kind", "subject", "body", "deal_id", "status", "created_at", "sent_at"
    }  # fmt: skip
    assert [r["status"] for r in rows] == ["pending", "pending", "sent"]
    assert rows[0]["sent_at"] is None and rows[2]["sent_at"] is not None
    assert rows[0]["deal_id"] == "moonbear-eu" and rows[0]["body"] == "body 2"

    bob = await api.http.get("/v1/notifications", headers=await api.auth("bob", "owner"))
    assert [r["subject"] for r in bob.json()] == ["bob reminder 1", "bob reminder 0"]
    nobody = await api.http.get("/v1/notifications", headers=await api.auth("dave", "ops"))
    assert nobody.json() == []


async def test_limit_is_bounded(api: Api) -> None:
    await _queue(api, "carol", 3)
    headers = await api.auth("carol", "approver")

    two = await api.http.get("/v1/notifications", params={"limit": 2}, headers=headers)
    assert [r["subject"] for r in two.json()] == ["carol reminder 2", "carol reminder 1"]
    for bad in (0, 201):
        resp = await api.http.get("/v1/notifications", params={"limit": bad}, headers=headers)
        assert_problem(resp, 422, field="query.limit")


async def test_notifications_need_a_token(api: Api) -> None:
    assert_problem(await api.http.get("/v1/notifications"), 401)
    wrong = {"Authorization": "Bearer lf_nope"}
    assert_problem(await api.http.get("/v1/notifications", headers=wrong), 401)
