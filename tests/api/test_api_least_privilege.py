"""Least privilege at the API: decision replies are the caller's view, a task the caller is
not assigned to is a 404 like an unknown task, and partner profiles are read only by those
who deal with the partner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api_helpers import Api, assert_problem, decide_ok, inbox_task
from api_samples import deal, partner

from api.task_access import approval_reply, deal_reply
from domain.amendments import PlanAmendment
from domain.approval import PartnerApprovalState, ScreeningResult, TrailEntry
from domain.common import HistoryEntry
from domain.deal import DealRequest
from domain.deal_state import DealState, Stage
from domain.tasks import Task, TaskKind
from store import deals
from store.tokens import Principal

UNKNOWN_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def _same_as_unknown(resp: Any, task_id: str) -> None:
    """A 404 whose body is exactly that of a task that does not exist."""
    body = assert_problem(resp, 404)
    assert set(body) == UNKNOWN_KEYS
    assert body["type"].endswith("/not-found") and body["title"] == "Not Found"
    assert body["detail"] == f"task {task_id} does not exist"
    assert body["instance"] == f"/v1/tasks/{task_id}/decision"


async def _deal_at_partner_approval(api: Api) -> dict[str, Any]:
    """A real deal whose plan is approved: its partner approval step is open for carol."""
    partner_id, contact = api.name("acme"), api.name("acme-ops")
    carol, sam, olivia = (api.name(n) for n in ("carol", "sam", "olivia"))
    admin = await api.auth("ada", "admin")
    registered = await api.http.post(
        "/v1/partners", json=partner(partner_id, contact), headers=admin
    )
    assert registered.status_code == 201, registered.text
    body = deal(api.name("moon"), partner_id=partner_id, approver=carol, signatory=sam)
    owner = await api.auth(olivia, "owner")
    created = await api.http.post("/v1/deals", json=body, headers=owner)
    assert created.status_code == 201, created.text
    approver = await api.auth(carol, "approver")
    await decide_ok(
        api, approver, await inbox_task(api, approver, "plan_approval"), decision="approve"
    )
    step = await inbox_task(api, approver, "partner_approval")
    return {
        "deal_id": body["deal_id"],
        "partner_id": partner_id,
        "step": step,
        "approver": approver,
        "owner": owner,
        "licensee": await api.auth(contact, "partner", partner_id=partner_id),
        "carol": carol,
    }


async def test_a_partner_reads_no_trail_comments_or_scores_in_a_decision_reply(
    real_api: Api,
) -> None:
    api = real_api
    setup = await _deal_at_partner_approval(api)
    comment = "internal: their margin is too thin"
    asked = await decide_ok(
        api, setup["approver"], setup["step"], decision="needs_revision", comment=comment
    )
    # the approver (licensor side) reads the approval as it is
    assert asked["state"]["trail"] and "screening" in asked["state"]

    revision = await inbox_task(api, setup["licensee"], "partner_revision")
    profile = partner(setup["partner_id"], api.name("acme-ops"))
    reply = await decide_ok(api, setup["licensee"], revision, decision="resubmit", profile=profile)
    state = reply["state"]
    assert set(state) == {"deal_id", "partner_id", "status", "version", "open_tasks"}
    text = str(reply)
    for secret in (comment, setup["carol"], "trail", "screening", "score", "reasons"):
        assert secret not in text, secret
    assert state["partner_id"] == setup["partner_id"]


async def test_a_competitor_gets_the_unknown_task_answer_for_an_open_task(
    real_api: Api,
) -> None:
    api = real_api
    setup = await _deal_at_partner_approval(api)
    task_id = setup["step"]["task_id"]
    competitor = await api.auth(api.name("zeta-ops"), "partner", partner_id=api.name("zeta"))
    stranger = await api.auth(api.name("una"), "approver")
    workflow_id = task_id.rsplit(":", 1)[0]
    unknown = [f"{workflow_id}:legal-v9", f"deal-{api.name('ghost')}:plan-v1"]

    for headers in (competitor, stranger, setup["licensee"]):
        for decision in ({"decision": "approve"}, {"decision": "reject", "comment": "x"}):
            resp = await api.http.post(
                f"/v1/tasks/{task_id}/decision", json=decision, headers=headers
            )
            _same_as_unknown(resp, task_id)
    for other in unknown:
        resp = await api.http.post(
            f"/v1/tasks/{other}/decision", json={"decision": "approve"}, headers=competitor
        )
        _same_as_unknown(resp, other)

    # each hidden refusal is still a denied attempt in the audit log (the competitor's)
    denied = await api.pool.fetch(
        "SELECT subject, detail FROM audit_log WHERE action = 'access.denied' AND actor = $1",
        api.name("zeta-ops"),
    )
    assert denied and {r["detail"]["status"] for r in denied} == {404}

    await decide_ok(api, setup["approver"], setup["step"], decision="approve")
    # decided: its approver hears so, a competitor still hears of nothing
    again = await api.http.post(
        f"/v1/tasks/{task_id}/decision", json={"decision": "approve"}, headers=setup["approver"]
    )
    assert_problem(again, 409)
    late = await api.http.post(
        f"/v1/tasks/{task_id}/decision", json={"decision": "approve"}, headers=competitor
    )
    _same_as_unknown(late, task_id)
    # the contract's signature task: a competitor cannot sign it, nor learn it exists
    signature = await inbox_task(api, setup["licensee"], "signature")
    sign = await api.http.post(
        f"/v1/tasks/{signature['task_id']}/decision", json={"decision": "sign"}, headers=competitor
    )
    _same_as_unknown(sign, signature["task_id"])
    ended = await api.http.post(
        f"/v1/deals/{setup['deal_id']}/terminate", json={"reason": "done"}, headers=setup["owner"]
    )
    assert ended.status_code == 200, ended.text


async def test_partner_profile_read_matrix(api: Api) -> None:
    partner_id, contact = api.name("acme"), api.name("acme-ops")
    admin = await api.auth("ada", "admin")
    created = await api.http.post("/v1/partners", json=partner(partner_id, contact), headers=admin)
    assert created.status_code == 201, created.text
    other_id = api.name("zeta")
    assert (
        await api.http.post(
            "/v1/partners", json=partner(other_id, api.name("zeta-ops")), headers=admin
        )
    ).status_code == 201
    owner, other_owner = api.name("olivia"), api.name("otto")
    request = deal(api.name("moon"), partner_id=partner_id, approver="carol", signatory="sam")
    request["owner"] = owner
    await deals.upsert(
        api.pool,
        deal_id=request["deal_id"],
        workflow_id=f"deal-{request['deal_id']}",
        title=request["title"],
        owner=owner,
        stage="planning",
        request=DealRequest.model_validate(request).model_dump(mode="json"),
        request_hash="h",
    )
    readers = {
        "admin": admin,
        "ops": await api.auth("oscar", "ops"),
        "own partner user": await api.auth(contact, "partner", partner_id=partner_id),
        "owner of a deal naming it": await api.auth(owner, "owner"),
    }
    strangers = {
        "competitor": await api.auth(api.name("zeta-ops"), "partner", partner_id=other_id),
        "other owner": await api.auth(other_owner, "owner"),
        "approver": await api.auth("carol", "approver"),
        "finance": await api.auth("fiona", "finance"),
    }
    path = f"/v1/partners/{partner_id}"
    for who, headers in readers.items():
        resp = await api.http.get(path, headers=headers)
        assert resp.status_code == 200, (who, resp.text)
        assert resp.json()["partner_id"] == partner_id
    unknown = assert_problem(await api.http.get("/v1/partners/nobody", headers=admin), 404)
    for who, headers in strangers.items():
        body = assert_problem(await api.http.get(path, headers=headers), 404)
        assert set(body) == set(unknown), who
        assert body["detail"] == f"partner {partner_id} does not exist", who
        nobody = assert_problem(await api.http.get("/v1/partners/nobody", headers=headers), 404)
        assert set(nobody) == set(body)

    async def listed(headers: dict[str, str]) -> list[str]:
        resp = await api.http.get("/v1/partners", headers=headers)
        assert resp.status_code == 200, resp.text
        return [p["partner_id"] for p in resp.json()]

    assert {partner_id, other_id} <= set(await listed(admin))
    assert await listed(readers["own partner user"]) == [partner_id]
    assert await listed(readers["owner of a deal naming it"]) == [partner_id]
    assert await listed(strangers["competitor"]) == [other_id]
    for who in ("other owner", "approver", "finance"):
        assert await listed(strangers[who]) == [], who


def _task(task_id: str, assignees: list[str], kind: TaskKind) -> Task:
    now = datetime.now(UTC)
    return Task(
        task_id=task_id,
        kind=kind,
        deal_id="moon",
        workflow_id=task_id.rsplit(":", 1)[0],
        title="t",
        assignees=assignees,
        opened_at=now,
        due_at=now,
        allowed_decisions=["resubmit"],
        history=[HistoryEntry(at=now, event="opened", detail=", ".join(assignees))],
    )


def test_approval_replies_are_the_callers_view() -> None:
    now = datetime.now(UTC)
    state = PartnerApprovalState(
        deal_id="moon",
        partner_id="acme",
        status="awaiting_revision",
        version=1,
        screening=ScreeningResult(passed=True, score=4.2, reasons=["cost 4"]),
        current_step="legal",
        open_tasks=[
            _task("pa:moon:acme:revision-v1", ["acme-ops", "olivia"], TaskKind.PARTNER_REVISION),
            _task("pa:moon:acme:legal-v1", ["carol"], TaskKind.PARTNER_APPROVAL),
        ],
        trail=[
            TrailEntry(
                at=now,
                version=1,
                step="legal",
                actor="carol",
                decision="needs_revision",
                comment="margin thin",
            )
        ],
    )
    licensee = Principal(user="acme-ops", roles=frozenset({"partner"}), partner_id="acme")
    seen = approval_reply(state, licensee)
    assert seen["status"] == "awaiting_revision"
    assert [t["task_id"] for t in seen["open_tasks"]] == ["pa:moon:acme:revision-v1"]
    assert seen["open_tasks"][0]["assignees"] == ["acme-ops"]
    for secret in ("carol", "olivia", "margin thin", "4.2", "legal"):
        assert secret not in str(seen), secret
    approver = Principal(user="carol", roles=frozenset({"approver"}))
    assert approval_reply(state, approver)["trail"][0]["comment"] == "margin thin"


def test_deal_replies_are_the_callers_view() -> None:
    now = datetime.now(UTC)
    request = DealRequest.model_validate(
        {**deal("moon", partner_id="acme", approver="carol", signatory="sam"), "owner": "olivia"}
    )
    state = DealState(
        deal_id="moon",
        title="Moon",
        owner="olivia",
        stage=Stage.IMPLEMENTATION,
        partner_id="acme",
        plan=request.plan,
        term_periods=12,
        open_tasks=[_task("deal-moon:plan-v2", ["carol"], TaskKind.PLAN_APPROVAL)],
        history=[HistoryEntry(at=now, event="task_decided", by="carol", detail="ok")],
        request=request,
    )
    licensee = Principal(user="acme-ops", roles=frozenset({"partner"}), partner_id="acme")
    seen = deal_reply(state, licensee)
    assert seen["request"] is None and seen["history"] == [] and seen["open_tasks"] == []
    assert "carol" not in str(seen)
    owner = Principal(user="olivia", roles=frozenset({"owner"}))
    assert deal_reply(state, owner)["history"][0]["by"] == "carol"
    outsider = Principal(user="una", roles=frozenset({"approver"}))
    assert deal_reply(state, outsider)["request"] is None


def test_a_licensee_sees_an_amendment_once_it_is_asked_to_sign_it() -> None:
    request = DealRequest.model_validate(
        {**deal("moon", partner_id="acme", approver="carol", signatory="sam"), "owner": "olivia"}
    )
    amendment = PlanAmendment(
        number=1,
        plan=request.plan,
        version=2,
        proposed_by="olivia",
        proposed_at=datetime.now(UTC),
        changes=["scope"],
        needs_signature=True,
    )
    state = DealState(
        deal_id="moon",
        title="Moon",
        owner="olivia",
        stage=Stage.MONITORING,
        partner_id="acme",
        plan=request.plan,
        term_periods=12,
        request=request,
        amendment=amendment,
    )
    licensee = Principal(user="acme-ops", roles=frozenset({"partner"}), partner_id="acme")
    assert deal_reply(state, licensee)["amendment"] is None  # under internal approval
    sent = amendment.model_copy(
        update={"status": "signature", "approved_by": "carol", "envelope_id": "env-1"}
    )
    seen = deal_reply(state.model_copy(update={"amendment": sent}), licensee)["amendment"]
    assert (seen["status"], seen["envelope_id"], seen["approved_by"]) == (
        "signature",
        "env-1",
        None,
    )
    owner = Principal(user="olivia", roles=frozenset({"owner"}))
    assert deal_reply(state, owner)["amendment"]["status"] == "approval"


async def test_a_step_is_delegated_only_to_an_eligible_approver(real_api: Api) -> None:
    """Delegating carol's step to the licensee's own user, to the owner or to someone
    without the approver role is a 422 naming `body.delegate_to`; to an active approver it
    goes through."""
    api = real_api
    setup = await _deal_at_partner_approval(api)
    path = f"/v1/tasks/{setup['step']['task_id']}/decision"
    finance = api.name("fred")
    await api.auth(finance, "finance")
    for refused in (api.name("acme-ops"), api.name("olivia"), finance, api.name("nobody")):
        resp = await api.http.post(
            path, json={"decision": "delegate", "delegate_to": refused}, headers=setup["approver"]
        )
        assert_problem(resp, 422)
        assert [e["field"] for e in resp.json()["errors"]] == ["body.delegate_to"], refused
    eligible = api.name("erik")
    await api.auth(eligible, "approver")
    ok = await api.http.post(
        path, json={"decision": "delegate", "delegate_to": eligible}, headers=setup["approver"]
    )
    assert ok.status_code == 200, ok.text
    ended = await api.http.post(
        f"/v1/deals/{setup['deal_id']}/terminate", json={"reason": "done"}, headers=setup["owner"]
    )
    assert ended.status_code == 200, ended.text
