"""Review of issue 13 through the API: moments outside the calendar and a deal term past
the year 9999 are 422s naming the field (they were 500s), and a rate-card row that would
never apply (a country after a region row holding it) is refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

from api_helpers import Api, assert_problem
from api_samples import deal, partner
from test_api_properties import body, registered


async def test_property_moments_outside_the_calendar_are_422(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    for field, moment in (
        ("available_from", "0001-01-01T00:00:00+01:00"),
        ("available_to", "9999-12-31T23:59:59-01:00"),
    ):
        resp = await api.http.post("/v1/properties", json=body(**{field: moment}), headers=owner)
        assert_problem(resp, 422, field=f"body.{field}")


async def test_availability_moments_outside_the_calendar_are_422(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    await registered(api, owner)
    for name, moment in (
        ("from", "0001-01-01T00:00:00+01:00"),
        ("to", "9999-12-31T23:59:59-01:00"),
    ):
        query = {
            "category": "apparel",
            "territory": "DE",
            "channel": "online",
            "from": "2028-01-01T00:00:00Z",
            name: moment,
        }
        resp = await api.http.get(
            "/v1/properties/moon-bear/availability", params=query, headers=owner
        )
        assert_problem(resp, 422, field=f"query.{name}")


async def test_deal_inputs_found_wanting_are_422_naming_the_field(stub_api: Api) -> None:
    api = stub_api
    admin = await api.auth(api.name("ada"), "admin")
    owner = await api.auth(api.name("olivia"), "owner")
    partner_id = api.name("acme")
    resp = await api.http.post("/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin)
    assert resp.status_code == 201, resp.text
    base = deal(
        api.name("moon"),
        partner_id=partner_id,
        approver=api.name("carol"),
        signatory=api.name("sam"),
    )

    async def refused(changes: dict[str, Any], field: str) -> str:
        found = copy.deepcopy(base)
        for key, value in changes.items():
            found[key].update(value)
        resp = await api.http.post("/v1/deals", json=found, headers=owner)
        detail: str = assert_problem(resp, 422, field=field)["detail"]
        return detail

    # a three-year term from mid-9999 would end past the calendar
    late = {"schedule": {"start": "9999-06-01T00:00:00Z"}}
    assert "9999" in await refused(late, "body.schedule.term_periods")
    # DACH first takes every DE line: the DE row the licensee would sign never applies
    category = base["plan"]["scope"]["categories"][0]
    rows = [
        {"category": category, "territory": territory, "royalty_tiers": [{"rate": rate}]}
        for territory, rate in (("DACH", 0.06), ("DE", 0.12))
    ]
    detail = await refused({"terms": {"rate_card": rows}}, "body.terms.rate_card")
    assert "row 1: never applies" in detail
