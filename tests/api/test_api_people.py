"""Who may be named on a deal and as a partner's contact: existing active users in the right
role, with separation of duties (api/people.py), each failure a 422 naming the field."""

from __future__ import annotations

import copy
from typing import Any

import asyncpg
import pytest
from api_helpers import Api, assert_problem
from api_samples import deal, partner

from api.people import check_delegate, deal_people_errors
from api.problems import ProblemError
from domain.approval import ApprovalStep
from domain.deal import DealRequest
from store import users
from store.users import User

OWNER = "olivia"


def _user(name: str, *roles: str, partner_id: str | None = None, active: bool = True) -> User:
    return User(name, name, frozenset(roles), partner_id, active)


PEOPLE = {
    u.user_name: u
    for u in (
        _user(OWNER, "owner"),
        _user("bob", "approver"),
        _user("carol", "approver"),
        _user("dave", "approver"),
        _user("alice", "approver"),
        _user("oscar", "ops"),
        _user("gone", "approver", active=False),
        _user("acme-ops", "partner", partner_id="acme"),
        _user("acme-boss", "approver", "partner", partner_id="acme"),
        _user("zeta-boss", "approver", "partner", partner_id="zeta"),
        _user("olivia2", "owner", "approver"),
    )
}


def _request(**changes: Any) -> DealRequest:
    body = deal("moon", partner_id="acme", approver="bob", signatory="alice")
    body["partner_approval_chain"] = [
        {"step": "commercial", "approvers": ["carol"]},
        {"step": "legal", "approvers": ["dave"]},
    ]
    body.update({"owner": OWNER, **changes})
    return DealRequest.model_validate(body)


def _fields(request: DealRequest, people: dict[str, User] = PEOPLE) -> dict[str, str]:
    return {e.field: e.kind for e in deal_people_errors(request, people, caller=OWNER)}


def test_a_valid_request_names_only_active_approvers() -> None:
    assert _fields(_request()) == {}


@pytest.mark.parametrize(
    ("changes", "field", "kind"),
    [
        ({"plan_approvers": ["bob", "ghost"]}, "body.plan_approvers.1", "unknown_user"),
        ({"plan_approvers": ["oscar"]}, "body.plan_approvers.0", "missing_role"),
        ({"plan_approvers": ["gone"]}, "body.plan_approvers.0", "inactive_user"),
        (
            {"partner_approval_chain": [{"step": "legal", "approvers": ["acme-ops"]}]},
            "body.partner_approval_chain.0.approvers.0",
            "missing_role",
        ),
        (
            {
                "partner_approval_chain": [
                    {"step": "commercial", "approvers": ["carol"]},
                    {"step": "legal", "approvers": ["dave", "acme-boss"]},
                ]
            },
            "body.partner_approval_chain.1.approvers.1",
            "separation_of_duties",
        ),
        (
            {
                "partner_approval_chain": [
                    {"step": "commercial", "approvers": ["carol"]},
                    {"step": "legal", "approvers": ["carol"]},
                ]
            },
            "body.partner_approval_chain.1.approvers.0",
            "separation_of_duties",
        ),
        (
            {
                "partner_approval_chain": [
                    {"step": "commercial", "approvers": ["carol"], "escalate_to": "dave"},
                    {"step": "legal", "approvers": ["dave"]},
                ]
            },
            "body.partner_approval_chain.1.approvers.0",
            "separation_of_duties",
        ),
        (
            {
                "partner_approval_chain": [
                    {"step": "legal", "approvers": ["dave"], "escalate_to": "acme-boss"}
                ]
            },
            "body.partner_approval_chain.0.escalate_to",
            "separation_of_duties",
        ),
        ({"licensor_signatory": "zeta-boss"}, "body.licensor_signatory", "separation_of_duties"),
        ({"licensor_signatory": "ghost"}, "body.licensor_signatory", "unknown_user"),
        ({"licensor_signatory": OWNER}, "body.licensor_signatory", "missing_role"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], field: str, kind: str) -> None:
    assert _fields(_request(**changes)) == {field: kind}


def test_the_owner_approves_nothing_and_signs_only_when_the_request_says_so() -> None:
    people = {**PEOPLE, OWNER: _user(OWNER, "owner", "approver")}
    request = _request(
        plan_approvers=[OWNER],
        partner_approval_chain=[{"step": "legal", "approvers": ["dave", OWNER]}],
        licensor_signatory=OWNER,
    )
    assert _fields(request, people) == {
        "body.plan_approvers.0": "separation_of_duties",
        "body.partner_approval_chain.0.approvers.1": "separation_of_duties",
        "body.licensor_signatory": "separation_of_duties",
    }
    # owner_may_sign: the owner signs with the owner role alone
    assert _fields(_request(licensor_signatory=OWNER, owner_may_sign=True)) == {}


def test_a_named_owner_holds_the_owner_role() -> None:
    request = _request(owner="oscar")
    errors = deal_people_errors(request, PEOPLE, caller="ada")
    assert [(e.field, e.kind) for e in errors] == [("body.owner", "missing_role")]
    assert deal_people_errors(_request(owner="olivia2"), PEOPLE, caller="ada") == []


# ------------------------------------------------------------------ through the API


async def _directory(api: Api) -> tuple[dict[str, str], dict[str, str], str]:
    """Users of a deal with partner acme-<uid> registered: admin, owner headers, partner id."""
    api.provision = False
    partner_id = api.name("acme")
    for name in ("bob", "carol", "dave", "alice"):
        await api.user(name, "approver")
    await api.user("acme-ops", "partner", partner_id=partner_id)
    admin = await api.auth("ada", "admin")
    owner = await api.auth(OWNER, "owner")
    created = await api.http.post(
        "/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin
    )
    assert created.status_code == 201, created.text
    return admin, owner, partner_id


def _deal_body(api: Api, partner_id: str) -> dict[str, Any]:
    body = deal(api.name("moon"), partner_id=partner_id, approver="bob", signatory="alice")
    body["partner_approval_chain"] = [
        {"step": "commercial", "approvers": ["carol"]},
        {"step": "legal", "approvers": ["dave"]},
    ]
    return body


async def test_create_deal_checks_people_before_starting_anything(api: Api) -> None:
    _, owner, partner_id = await _directory(api)
    body = _deal_body(api, partner_id)

    unknown = copy.deepcopy(body)
    unknown["plan_approvers"] = ["bob", "ghost"]
    problem = assert_problem(
        await api.http.post("/v1/deals", json=unknown, headers=owner),
        422,
        field="body.plan_approvers.1",
    )
    assert "ghost" in problem["detail"]

    await api.user("acme-boss", "approver", "partner", partner_id=partner_id)
    conflicted = copy.deepcopy(body)
    conflicted["partner_approval_chain"][1]["approvers"] = ["acme-boss"]
    conflicted["licensor_signatory"] = "acme-boss"
    problem = assert_problem(
        await api.http.post("/v1/deals", json=conflicted, headers=owner),
        422,
        field="body.partner_approval_chain.1.approvers.0",
    )
    assert {e["field"] for e in problem["errors"]} == {
        "body.partner_approval_chain.1.approvers.0",
        "body.licensor_signatory",
    }

    twice = copy.deepcopy(body)
    twice["partner_approval_chain"][1]["approvers"] = ["carol"]
    assert_problem(
        await api.http.post("/v1/deals", json=twice, headers=owner),
        422,
        field="body.partner_approval_chain.1.approvers.0",
    )

    await users.set_active(api.pool, "alice", False)
    assert_problem(
        await api.http.post("/v1/deals", json=body, headers=owner),
        422,
        field="body.licensor_signatory",
    )
    await users.set_active(api.pool, "alice", True)

    owner_signs = copy.deepcopy(body)
    owner_signs["licensor_signatory"] = OWNER
    assert_problem(
        await api.http.post("/v1/deals", json=owner_signs, headers=owner),
        422,
        field="body.licensor_signatory",
    )
    owner_signs["owner_may_sign"] = True
    created = await api.http.post("/v1/deals", json=owner_signs, headers=owner)
    assert created.status_code == 201, created.text


async def test_an_admin_starts_a_deal_only_for_an_owner(api: Api) -> None:
    admin, _, partner_id = await _directory(api)
    body = {**_deal_body(api, partner_id), "owner": "bob"}
    assert_problem(
        await api.http.post("/v1/deals", json=body, headers=admin), 422, field="body.owner"
    )
    body["owner"] = OWNER
    created = await api.http.post("/v1/deals", json=body, headers=admin)
    assert created.status_code == 201, created.text


async def test_the_contact_user_exists_bound_to_the_partner_first(api: Api) -> None:
    api.provision = False
    admin = await api.auth("ada", "admin")
    body = partner("globex", "globex-ops")

    unknown = await api.http.post("/v1/partners", json=body, headers=admin)
    assert "globex-ops" in assert_problem(unknown, 422, field="body.contact_user")["detail"]
    await api.user("globex-ops", "approver")
    assert_problem(
        await api.http.post("/v1/partners", json=body, headers=admin),
        422,
        field="body.contact_user",
    )
    await users.upsert(api.pool, "globex-ops", roles=["partner"], partner_id="initech")
    assert_problem(
        await api.http.post("/v1/partners", json=body, headers=admin),
        422,
        field="body.contact_user",
    )
    # the admin binds the contact to the partner id before registering it
    moved = await api.http.put(
        "/v1/users/globex-ops", json={"roles": ["partner"], "partner_id": "globex"}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    await users.set_active(api.pool, "globex-ops", False)
    assert_problem(
        await api.http.post("/v1/partners", json=body, headers=admin),
        422,
        field="body.contact_user",
    )
    await users.set_active(api.pool, "globex-ops", True)
    created = await api.http.post("/v1/partners", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert (await api.http.get("/v1/partners/globex", headers=admin)).status_code == 200


async def test_check_delegate(pool: asyncpg.Pool) -> None:
    for name in ("carol", "dave", "erin", "vera"):
        await users.ensure(pool, name, ["approver"])
    await users.ensure(pool, OWNER, ["owner", "approver"])
    await users.ensure(pool, "acme-boss", ["approver", "partner"], "acme")
    await users.ensure(pool, "oscar", ["ops"])
    chain = [
        ApprovalStep(step="commercial", approvers=["carol"], escalate_to="vera"),
        ApprovalStep(step="legal", approvers=["dave"]),
    ]

    async def refused(delegate: str) -> str:
        with pytest.raises(ProblemError) as caught:
            await check_delegate(pool, delegate, owner=OWNER, chain=chain, step="legal")
        assert caught.value.status == 422
        assert caught.value.errors is not None
        assert [e["field"] for e in caught.value.errors] == ["body.delegate_to"]
        return str(caught.value.errors[0]["type"])

    found = await check_delegate(pool, "erin", owner=OWNER, chain=chain, step="legal")
    assert found.user_name == "erin"
    assert await refused("ghost") == "unknown_user"
    assert await refused("oscar") == "missing_role"
    assert await refused(OWNER) == "separation_of_duties"
    assert await refused("acme-boss") == "separation_of_duties"
    assert await refused("carol") == "separation_of_duties"  # approves commercial
    assert await refused("vera") == "separation_of_duties"  # escalation target of commercial
    await users.set_active(pool, "erin", False)
    assert await refused("erin") == "inactive_user"
