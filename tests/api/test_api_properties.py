"""Properties and rights through the API: registering a property (owner, admin), reading
the catalogue, deals naming a property (422s naming the field), availability (free or taken,
per country, with the blocking grants) and the program; then the issue's scenario on the
real stack: the second exclusive plan approval answers 409 naming the first deal and a cell.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from api_helpers import Api, assert_problem, decide_ok, eventually, inbox_task
from api_samples import deal, partner

from domain.common import LicensedScope
from domain.rights import Holding, desired_rows
from store import grants

PROPERTY: dict[str, Any] = {
    "property_id": "moon-bear",
    "name": "Moon Bear",
    "rights": {
        "categories": ["Apparel", "toys"],
        "territories": ["DACH", "FR"],
        "channels": ["online", "retail"],
    },
    "available_from": "2026-01-01T00:00:00Z",
    "available_to": "2036-01-01T00:00:00Z",
}


def body(**overrides: Any) -> dict[str, Any]:
    found = copy.deepcopy(PROPERTY)
    found.update(overrides)
    return found


async def registered(api: Api, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    resp = await api.http.post("/v1/properties", json=body(**overrides), headers=headers)
    assert resp.status_code == 201, resp.text
    found: dict[str, Any] = resp.json()
    return found


# ---- registering -------------------------------------------------------------------------


async def test_an_owner_registers_a_property_once(api: Api) -> None:
    olivia = api.name("olivia")
    owner = await api.auth(olivia, "owner")
    created = await registered(api, owner)
    assert created["owner"] == olivia and created["created_by"] == olivia
    rights = created["rights"]
    assert rights["categories"] == ["apparel", "toys"]  # lower case
    assert rights["territories"] == ["DE", "AT", "CH", "FR"]  # the region expanded
    assert created["available_to"] == "2036-01-01T00:00:00Z"

    again = await api.http.post("/v1/properties", json=body(), headers=owner)
    assert again.status_code == 200 and again.json() == created
    changed = await api.http.post("/v1/properties", json=body(name="Moon Bear II"), headers=owner)
    assert_problem(changed, 409)

    rows = await api.pool.fetch(
        "SELECT actor, action, subject, detail FROM audit_log WHERE action = 'property.create'"
    )
    assert [(r["actor"], r["subject"]) for r in rows] == [(olivia, "moon-bear")]
    assert rows[0]["detail"]["owner"] == olivia and rows[0]["detail"]["request_id"]

    for reader in ("ops", "finance", "admin"):
        headers = await api.auth(api.name(reader), reader)
        one = await api.http.get("/v1/properties/moon-bear", headers=headers)
        assert one.status_code == 200 and one.json() == created
        listed = await api.http.get("/v1/properties", headers=headers)
        assert [p["property_id"] for p in listed.json()] == ["moon-bear"]
    assert_problem(await api.http.get("/v1/properties/nope", headers=owner), 404)


async def test_an_admin_names_an_active_owner(api: Api) -> None:
    admin = await api.auth(api.name("ada"), "admin")
    unnamed = await api.http.post("/v1/properties", json=body(), headers=admin)
    assert_problem(unnamed, 422, field="body.owner")
    approver = api.name("carol")
    await api.user(approver, "approver")
    not_owner = await api.http.post("/v1/properties", json=body(owner=approver), headers=admin)
    assert "owner role" in assert_problem(not_owner, 422, field="body.owner")["detail"]
    unknown = await api.http.post("/v1/properties", json=body(owner="ghost"), headers=admin)
    assert_problem(unknown, 422, field="body.owner")
    olivia = api.name("olivia")
    await api.user(olivia, "owner")
    created = await registered(api, admin, owner=olivia)
    assert (created["owner"], created["created_by"]) == (olivia, api.name("ada"))


async def test_who_may_register_and_read(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    other = api.name("otto")
    await api.user(other, "owner")
    for_other = await api.http.post("/v1/properties", json=body(owner=other), headers=owner)
    assert_problem(for_other, 403)
    await registered(api, owner)
    for role, partner_id in (("approver", None), ("partner", "acme"), ("ops", None)):
        headers = await api.auth(api.name(role), role, partner_id=partner_id)
        assert_problem(await api.http.post("/v1/properties", json=body(), headers=headers), 403)
    for role, partner_id in (("approver", None), ("partner", "acme")):
        headers = await api.auth(api.name(role), role, partner_id=partner_id)
        for path in (
            "/v1/properties",
            "/v1/properties/moon-bear",
            "/v1/properties/moon-bear/grants",
            "/v1/properties/moon-bear/availability?category=apparel&territory=DE"
            "&channel=online&from=2027-01-01T00:00:00Z",
        ):
            assert_problem(await api.http.get(path, headers=headers), 403)
    assert_problem(await api.http.get("/v1/properties"), 401)


async def test_a_property_body_is_checked_field_by_field(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"rights": {**PROPERTY["rights"], "territories": ["UK"]}}, "body.rights.territories.0"),
        ({"rights": {**PROPERTY["rights"], "channels": []}}, "body.rights.channels"),
        ({"available_from": "2027-01-01T00:00:00"}, "body.available_from"),
        ({"available_to": "2025-01-01T00:00:00Z"}, "body.available_to"),
        ({"property_id": "Moon Bear"}, "body.property_id"),
        ({"name": "two\nlines"}, "body.name"),
        ({"surprise": 1}, "body.surprise"),
    ]
    for overrides, field in cases:
        resp = await api.http.post("/v1/properties", json=body(**overrides), headers=owner)
        assert_problem(resp, 422, field=field)
    missing = body()
    del missing["available_from"]
    resp = await api.http.post("/v1/properties", json=missing, headers=owner)
    assert_problem(resp, 422, field="body.available_from")
    uk = await api.http.post(
        "/v1/properties",
        json=body(rights={**PROPERTY["rights"], "territories": ["UK"]}),
        headers=owner,
    )
    assert "use GB" in uk.json()["detail"]


# ---- deals naming a property -------------------------------------------------------------


async def test_a_new_deal_names_a_property_that_offers_its_scope(stub_api: Api) -> None:
    api = stub_api
    api.provision_property = False
    admin = await api.auth(api.name("ada"), "admin")
    owner = await api.auth(api.name("olivia"), "owner")
    partner_id = api.name("acme")
    resp = await api.http.post("/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin)
    assert resp.status_code == 201, resp.text
    await registered(api, owner)

    def new_deal(**overrides: Any) -> dict[str, Any]:
        found = deal(
            api.name(f"moon{len(overrides)}"),
            partner_id=partner_id,
            approver=api.name("carol"),
            signatory=api.name("sam"),
        )
        found["schedule"]["start"] = "2027-01-01T00:00:00Z"
        found.update(overrides)
        return found

    async def refused(body: dict[str, Any], field: str) -> str:
        resp = await api.http.post("/v1/deals", json=body, headers=owner)
        detail: str = assert_problem(resp, 422, field=field)["detail"]
        return detail

    no_property = new_deal()
    del no_property["property_id"]
    assert "POST /v1/properties" in await refused(no_property, "body.property_id")
    assert "unknown property" in await refused(new_deal(property_id="nope"), "body.property_id")
    outside = new_deal()
    outside["plan"]["scope"]["territories"] = ["DE", "IT"]
    assert "'IT' is not offered by property moon-bear" in await refused(
        outside, "body.plan.scope.territories.1"
    )
    music = new_deal()
    music["plan"]["scope"]["categories"] = ["music"]
    await refused(music, "body.plan.scope.categories.0")
    early = new_deal()
    early["schedule"]["start"] = "2025-06-01T00:00:00Z"
    assert "available from 2026-01-01" in await refused(early, "body.schedule.start")
    long = new_deal()
    long["schedule"]["term_periods"] = 120  # ten years from 2027: past 2036
    assert "available until 2036-01-01" in await refused(long, "body.schedule.term_periods")

    created = await api.http.post("/v1/deals", json=new_deal(), headers=owner)
    assert created.status_code == 201, created.text


# ---- availability and the program ----------------------------------------------------------

Y2027 = datetime(2027, 1, 1, tzinfo=UTC)
Y2030 = datetime(2030, 1, 1, tzinfo=UTC)


async def _grant(
    api: Api, deal_id: str, partner_id: str | None, *territories: str, exclusive: bool
) -> None:
    """Grant `territories` (apparel, online, 2027-2030) to a deal straight in the ledger."""
    scope = LicensedScope(
        categories=["apparel"],
        territories=list(territories),
        channels=["online"],
        exclusive=exclusive,
    )
    holding = Holding(scope=scope, starts_at=Y2027, ends_at=Y2030, status="active")
    _, conflict = await grants.hold(
        api.pool,
        deal_id=deal_id,
        property_id="moon-bear",
        partner_id=partner_id,
        plan_version=1,
        rows=desired_rows([holding]),
    )
    assert conflict is None


async def test_availability_answers_per_country_with_the_blocking_grants(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    await registered(api, owner)
    await _grant(api, "acme-de", "acme", "DE", exclusive=True)
    await _grant(api, "globex-at", "globex", "AT", exclusive=False)

    async def ask(**params: Any) -> dict[str, Any]:
        query = {"category": "apparel", "channel": "online", "from": "2028-01-01T00:00:00Z"}
        query.update(params)
        resp = await api.http.get(
            "/v1/properties/moon-bear/availability", params=query, headers=owner
        )
        assert resp.status_code == 200, resp.text
        found: dict[str, Any] = resp.json()
        return found

    answer = await ask(territory="dach", to="2029-01-01T00:00:00Z")
    assert answer["free"] is False and answer["territory"] == "DACH"
    cells = {c["territory"]: c for c in answer["cells"]}
    assert list(cells) == ["DE", "AT", "CH"]
    de, at, ch = cells["DE"], cells["AT"], cells["CH"]
    assert (de["free"], de["free_exclusive"], de["free_non_exclusive"]) == (False, False, False)
    assert [(b["deal_id"], b["licensee"], b["exclusive"]) for b in de["blocking"]] == [
        ("acme-de", "acme", True)
    ]
    assert de["blocking"][0]["starts_at"] == "2027-01-01T00:00:00Z"
    assert (at["free"], at["free_non_exclusive"]) == (False, True)  # shared grant in the way
    assert (ch["free"], ch["blocking"]) == (True, [])
    shared = await ask(territory="AT", exclusive="false", to="2029-01-01T00:00:00Z")
    assert shared["free"] is True
    after = await ask(
        territory="DE", **{"from": "2030-01-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"}
    )
    assert after["free"] is True  # [2027, 2030) ends where the asked window starts
    open_end = await ask(territory="CH")  # no `to`: past the property's availability
    assert open_end["cells"][0]["offered"] is False and open_end["free"] is False
    not_offered = await ask(territory="IT", to="2029-01-01T00:00:00Z")
    assert not_offered["cells"][0]["offered"] is False

    for params, field in (
        ({"territory": "XX"}, "query.territory"),
        ({"territory": "DE", "to": "2027-01-01T00:00:00Z"}, "query.to"),
        ({"territory": "DE", "from": "2028-01-01T00:00:00"}, "query.from"),
        ({"territory": "DE", "from": "soon"}, "query.from"),
        ({"channel": ""}, "query.channel"),
    ):
        query = {"category": "apparel", "channel": "online", "from": "2028-01-01T00:00:00Z"}
        query.update(params)
        resp = await api.http.get(
            "/v1/properties/moon-bear/availability", params=query, headers=owner
        )
        assert_problem(resp, 422, field=field)
    unknown = await api.http.get(
        "/v1/properties/nope/availability",
        params={"category": "a", "territory": "DE", "channel": "b", "from": "2028-01-01T00:00:00Z"},
        headers=owner,
    )
    assert_problem(unknown, 404)


async def test_the_program_lists_who_holds_what_where_until_when(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    finance = await api.auth(api.name("fiona"), "finance")
    await registered(api, owner)
    await _grant(api, "acme-de", "acme", "DE", "FR", exclusive=True)
    await _grant(api, "globex-at", None, "AT", exclusive=False)
    await grants.release(api.pool, "globex-at")

    held = await api.http.get("/v1/properties/moon-bear/grants", headers=finance)
    assert held.status_code == 200, held.text
    assert held.json() == [
        {
            "deal_id": "acme-de",
            "licensee": "acme",
            "category": "apparel",
            "channel": "online",
            "territories": ["DE", "FR"],
            "exclusive": True,
            "status": "active",
            "starts_at": "2027-01-01T00:00:00Z",
            "ends_at": "2030-01-01T00:00:00Z",
            "plan_version": 1,
            "updated_at": held.json()[0]["updated_at"],
        }
    ]
    every = await api.http.get(
        "/v1/properties/moon-bear/grants", params={"status": "all"}, headers=owner
    )
    assert [(g["deal_id"], g["status"]) for g in every.json()] == [
        ("acme-de", "active"),
        ("globex-at", "released"),
    ]
    one = await api.http.get(
        "/v1/properties/moon-bear/grants", params={"deal_id": "globex-at"}, headers=owner
    )
    assert one.json() == []
    bad = await api.http.get(
        "/v1/properties/moon-bear/grants", params={"status": "lost"}, headers=owner
    )
    assert_problem(bad, 422, field="query.status")
    assert_problem(await api.http.get("/v1/properties/nope/grants", headers=owner), 404)


# ---- the scenario on the real stack --------------------------------------------------


async def test_the_second_exclusive_deal_is_refused_at_plan_approval(real_api: Api) -> None:
    """acme and globex both ask apparel x {DE, FR} x online exclusively: the first plan
    approval reserves the cells, the second answers 409 naming the first deal and a cell,
    and the owner finds the plan back in the inbox to revise; the program and availability
    show the reservation."""
    api = real_api
    admin = await api.auth(api.name("ada"), "admin")
    olivia, carol, sam = api.name("olivia"), api.name("carol"), api.name("sam")
    owner = await api.auth(olivia, "owner")
    planner = await api.auth(carol, "approver")
    await registered(api, owner)
    deal_ids = []
    for name in ("acme", "globex"):
        partner_id = api.name(name)
        contact = f"{partner_id}-ops"
        resp = await api.http.post("/v1/partners", json=partner(partner_id, contact), headers=admin)
        assert resp.status_code == 201, resp.text
        found = deal(api.name(f"moon-{name}"), partner_id=partner_id, approver=carol, signatory=sam)
        found["plan"]["scope"] = {
            "categories": ["apparel"],
            "territories": ["DE", "FR"],
            "channels": ["online"],
            "exclusive": True,
        }
        created = await api.http.post("/v1/deals", json=found, headers=owner)
        assert created.status_code == 201, created.text
        deal_ids.append(found["deal_id"])
    first, second = deal_ids

    async def plan_task(deal_id: str) -> dict[str, Any]:
        async def mine() -> list[dict[str, Any]]:
            resp = await api.http.get("/v1/tasks", headers=planner)
            return [t for t in resp.json() if t["task_id"] == f"deal-{deal_id}:plan-v1"]

        return (await eventually(mine, bool, within=30))[0]

    await decide_ok(api, planner, await plan_task(first), decision="approve")
    refused = await api.http.post(
        f"/v1/tasks/{(await plan_task(second))['task_id']}/decision",
        json={"decision": "approve"},
        headers=planner,
    )
    detail = assert_problem(refused, 409)["detail"]
    assert f"held exclusively by deal {first}" in detail
    assert "apparel/DE/online of property moon-bear" in detail

    revise = await inbox_task(api, owner, "plan_revision")
    assert revise["deal_id"] == second and first in revise["title"]

    program = await api.http.get("/v1/properties/moon-bear/grants", headers=owner)
    assert [(g["deal_id"], g["status"], g["territories"]) for g in program.json()] == [
        (first, "reserved", ["DE", "FR"])
    ]
    taken = await api.http.get(
        "/v1/properties/moon-bear/availability",
        params={
            "category": "apparel",
            "territory": "FR",
            "channel": "online",
            "from": datetime.now(UTC).isoformat(),
            "to": "2030-01-01T00:00:00Z",
        },
        headers=owner,
    )
    (cell,) = taken.json()["cells"]
    assert cell["free"] is False and cell["blocking"][0]["deal_id"] == first
