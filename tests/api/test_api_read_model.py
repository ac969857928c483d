"""The read model on the real stack (dev server, Postgres, real workers): GET /v1/deals/{id}
answers from Postgres exactly what the live workflow's `state` query answers (`?live=true`),
at every stage of a deal and for each kind of reader; a decision's effect is there for the
very next GET (read-your-writes); deal reads, the list and the inbox keep answering with the
worker stopped."""

from __future__ import annotations

from typing import Any

import httpx
from api_helpers import Api, decide_ok, eventually, inbox_task
from api_samples import REPORT_LINE, deal, partner

from workers.main import build_worker

Pair = tuple[dict[str, Any], dict[str, Any]]


def _differences(pair: Pair) -> str:
    stored, live = pair
    keys = sorted(k for k in stored.keys() | live.keys() if stored.get(k) != live.get(k))
    return "; ".join(f"{k}: read model {stored.get(k)!r} != live {live.get(k)!r}" for k in keys)


async def same_as_live(api: Api, deal_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """GET /v1/deals/{id} (read model) and GET ...?live=true (the `state` query) answer the
    same JSON once the workflow is at rest; the read model's answer."""

    async def both() -> Pair:
        stored = await api.http.get(f"/v1/deals/{deal_id}", headers=headers)
        live = await api.http.get(f"/v1/deals/{deal_id}", params={"live": "true"}, headers=headers)
        assert (stored.status_code, live.status_code) == (200, 200), (stored.text, live.text)
        return stored.json(), live.json()

    stored, _ = await eventually(
        both, lambda p: p[0] == p[1], within=20, what="read model == live", describe=_differences
    )
    return stored


async def published(api: Api, deal_id: str) -> int:
    """The deal's read-model sequence number (None would mean the API fell back to Temporal)."""
    seq = await api.pool.fetchval("SELECT rm_seq FROM deals WHERE deal_id = $1", deal_id)
    assert seq is not None and seq >= 1, seq
    return int(seq)


async def test_read_model_answers_as_the_live_workflow_at_every_stage(real_api: Api) -> None:
    api = real_api
    partner_id, contact = api.name("acme"), api.name("acme-ops")
    carol, larry, sam, olivia = (api.name(n) for n in ("carol", "larry", "sam", "olivia"))
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    legal = await api.auth(larry, "approver")
    signatory = await api.auth(sam, "approver")
    licensee = await api.auth(contact, "partner", partner_id=partner_id)
    stranger = await api.auth(api.name("otto"), "owner")
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
        "decision_sla": "PT60S",
    }
    deal_id = body["deal_id"]
    assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201

    # planning: the plan approval is open
    plan_task = await inbox_task(api, planner, "plan_approval")
    planning = await same_as_live(api, deal_id, owner)
    assert [t["task_id"] for t in planning["open_tasks"]] == [plan_task["task_id"]]
    await same_as_live(api, deal_id, planner)
    first_seq = await published(api, deal_id)
    for who, status in ((stranger, 403), (licensee, 403)):
        assert (await api.http.get(f"/v1/deals/{deal_id}", headers=who)).status_code == status
    unknown = await api.http.get(f"/v1/deals/{api.name('nope')}", headers=owner)
    assert unknown.status_code == 404

    # read-your-writes: the decision's answer, then at once a GET (no wait in between)
    reply = await decide_ok(api, planner, plan_task, decision="approve")
    after = await api.http.get(f"/v1/deals/{deal_id}", headers=owner)
    assert after.status_code == 200
    seen = after.json()
    assert plan_task["task_id"] not in [t["task_id"] for t in seen["open_tasks"]]
    answered = [(h["event"], h["detail"]) for h in reply["state"]["history"]]
    assert [(h["event"], h["detail"]) for h in seen["history"]][: len(answered)] == answered
    assert await published(api, deal_id) > first_seq

    # implementation: the partner approval's task is in the approver's inbox, from Postgres
    approval = await inbox_task(api, legal, "partner_approval")
    await same_as_live(api, deal_id, owner)
    await decide_ok(api, legal, approval, decision="approve", comment="screening passed")
    inbox = await api.http.get("/v1/tasks", headers=legal)
    assert approval["task_id"] not in [t["task_id"] for t in inbox.json()]

    signing = await inbox_task(api, signatory, "signature")
    await same_as_live(api, deal_id, signatory)
    await decide_ok(api, signatory, signing, decision="sign")
    await decide_ok(api, licensee, await inbox_task(api, licensee, "signature"), decision="sign")

    # monitoring: two reported periods, then the review waits for the owner
    for period in (1, 2):
        report = {"period": period, "lines": [REPORT_LINE]}
        sent = await api.http.post(
            f"/v1/deals/{deal_id}/sales-reports", json=report, headers=licensee
        )
        assert sent.status_code == 201, sent.text
    review = await inbox_task(api, owner, "review_decision")
    reviewing = await same_as_live(api, deal_id, owner)
    assert [p["status"] for p in reviewing["periods"]] == ["checked", "checked"]
    assert [s["kind"] for s in reviewing["statements"]] == ["period", "period"]
    as_licensee = await same_as_live(api, deal_id, licensee)
    assert as_licensee["history"] == [] and as_licensee["request"] is None
    assert len(as_licensee["invoices"]) == 2

    await decide_ok(api, owner, review, decision="continue")
    renewal = await inbox_task(api, owner, "renewal_decision")
    await same_as_live(api, deal_id, owner)
    await decide_ok(api, owner, renewal, decision="expire", comment="one year is enough")

    final = await eventually(
        lambda: api.http.get(f"/v1/deals/{deal_id}", headers=owner),
        lambda r: r.json()["stage"] == "completed",
        within=30,
    )
    assert final.json()["open_tasks"] == []
    done = await same_as_live(api, deal_id, owner)
    assert [s["kind"] for s in done["statements"]] == ["period", "period", "true_up", "final"]
    row = await api.pool.fetchrow(
        "SELECT closed_at, pending_approvers FROM deals WHERE deal_id = $1", deal_id
    )
    assert row["closed_at"] is not None and row["pending_approvers"] == []
    assert (
        await api.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE deal_id = $1 AND action = 'deal.create'", deal_id
        )
        == 1
    )

    listed = await api.http.get("/v1/deals", params={"stage": "completed"}, headers=owner)
    assert [(d["deal_id"], d["status"]) for d in listed.json()] == [(deal_id, "completed")]
    assert (await api.http.get("/v1/deals", headers=stranger)).json() == []
    assert (await api.http.get("/v1/deals", headers=licensee)).json()[0]["deal_id"] == deal_id


async def test_reads_answer_from_postgres_with_the_worker_stopped(api: Api) -> None:
    """With no worker a `state` query cannot be answered; the read model still is."""
    partner_id, olivia, carol = api.name("acme"), api.name("olivia"), api.name("carol")
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, api.name("acme-ops")), headers=admin
    )
    assert registered.status_code == 201
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory="sam")
    deal_id = body["deal_id"]
    async with build_worker(api.client, api.pool, api.settings, task_queue=api.settings.task_queue):
        assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
        plan_task = await inbox_task(api, planner, "plan_approval")
        before = await same_as_live(api, deal_id, owner)
    # the worker is gone: a `state` query would wait for one (503 after the call timeout);
    # every read below answers at once from Postgres
    reads: list[httpx.Response] = []
    for path, who in (
        (f"/v1/deals/{deal_id}", owner),
        (f"/v1/deals/{deal_id}", planner),
        ("/v1/deals", owner),
        ("/v1/tasks", planner),
        (f"/v1/deals/{deal_id}/statements", owner),
    ):
        resp = await api.http.get(path, headers=who)
        assert resp.status_code == 200, resp.text
        reads.append(resp)
    assert reads[0].json() == before
    assert reads[1].json()["open_tasks"][0]["task_id"] == plan_task["task_id"]
    assert [d["deal_id"] for d in reads[2].json()] == [deal_id]
    assert [t["task_id"] for t in reads[3].json()] == [plan_task["task_id"]]


async def test_an_assignees_decision_is_let_through_by_the_read_model(api: Api) -> None:
    """Whether the caller may decide an open task is read from the read model, not asked of
    the workflow: with the worker stopped (no `state` query can be answered), the plan
    approver's malformed decision gets its 422 at once, as a caller who may decide it. The
    workflow still has the last word: once it runs again the decision applies, and a second
    one on the closed task (gone from the read model: the workflow is asked) is a 409; to a
    stranger the task stays unknown."""
    partner_id, olivia, carol = api.name("acme"), api.name("olivia"), api.name("carol")
    admin = await api.auth("ada", "admin")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    stranger = await api.auth(api.name("otto"), "approver")
    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, api.name("acme-ops")), headers=admin
    )
    assert registered.status_code == 201
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory="sam")
    queue = api.settings.task_queue
    async with build_worker(api.client, api.pool, api.settings, task_queue=queue):
        assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
        plan_task = await inbox_task(api, planner, "plan_approval")
    url = f"/v1/tasks/{plan_task['task_id']}/decision"
    malformed = await api.http.post(url, json={"decision": 7}, headers=planner)
    assert malformed.status_code == 422, malformed.text
    async with build_worker(api.client, api.pool, api.settings, task_queue=queue):
        decided = await decide_ok(api, planner, plan_task, decision="approve")
        assert decided["status"] == "accepted"
        again = await api.http.post(url, json={"decision": "approve"}, headers=planner)
        assert again.status_code == 409, again.text
        unknown = await api.http.post(url, json={"decision": "approve"}, headers=stranger)
        assert unknown.status_code == 404, unknown.text
