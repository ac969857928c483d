"""Every input is bounded at the edge: what would later break a deal is a 422 naming the
field, and nothing is stored or started (the cases the integrity review found)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from api_helpers import Api, assert_problem
from api_samples import REPORT_LINE, deal, partner

from store import deals, sales

Edit = Callable[[dict[str, Any]], None]


def set_at(path: str, value: Any) -> Edit:
    """An edit setting `value` at a dotted path (list indexes are numbers)."""

    def edit(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return edit


def set_jpy_advance(advance: str) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        body["terms"].update(currency="JPY", advance=advance, minimum_guarantee_per_year="0")

    return edit


DEAL_CASES: list[tuple[str, Edit, str]] = [
    (
        "currency that is no ISO 4217 code",
        set_at("terms.currency", "banana"),
        "body.terms.currency",
    ),
    ("JPY advance with decimals", set_jpy_advance("100000.5"), "body.terms.advance"),
    ("NUL in the title", set_at("title", "Moon\u0000Bear"), "body.title"),
    (
        "control character in a code",
        set_at("plan.scope.channels.0", "on\u001bline"),
        "body.plan.scope.channels.0",
    ),
    (
        "territory that is no ISO 3166 code",
        set_at("plan.scope.territories.1", "XX"),
        "body.plan.scope.territories.1",
    ),
    (
        "UK instead of GB",
        set_at("plan.scope.territories", ["EU", "uk"]),
        "body.plan.scope.territories.1",
    ),
    ("title of 201 characters", set_at("title", "x" * 201), "body.title"),
    ("period P9000Y", set_at("schedule.period", "P9000Y"), "body.schedule.period"),
    (
        "decision SLA P1000000000D",
        set_at("schedule.decision_sla", "P1000000000D"),
        "body.schedule.decision_sla",
    ),
    (
        "grace below a second",
        set_at("schedule.report_grace", "PT0.1S"),
        "body.schedule.report_grace",
    ),
    (
        "start without a time zone",
        set_at("schedule.start", "2027-01-01T00:00:00"),
        "body.schedule.start",
    ),
    (
        "term over 100 years",
        set_at("schedule", {"period": "P1Y", "periods_per_year": 1, "term_periods": 101}),
        "body.schedule",
    ),
    ("advance above the money maximum", set_at("terms.advance", "1e17"), "body.terms.advance"),
    (
        "minimum guarantee with 3 decimals",
        set_at("terms.minimum_guarantee_per_year", "1.005"),
        "body.terms.minimum_guarantee_per_year",
    ),
    (
        "KPI target 1e30",
        set_at("plan.kpis.0.target_per_period", "1e30"),
        "body.plan.kpis.0.target_per_period",
    ),
    (
        "rate with 7 decimals",
        set_at("terms.royalty_tiers.0.rate", "0.0800001"),
        "body.terms.royalty_tiers.0.rate",
    ),
    (
        "51 plan approvers",
        set_at("plan_approvers", [f"a{i}" for i in range(51)]),
        "body.plan_approvers",
    ),
]


@pytest.mark.parametrize(("case", "edit", "field"), DEAL_CASES, ids=[c[0] for c in DEAL_CASES])
async def test_bad_deal_inputs_are_422_naming_the_field(
    stub_api: Api, case: str, edit: Edit, field: str
) -> None:
    admin = await stub_api.auth("ada", "admin")
    partner_id = stub_api.name("acme")
    await stub_api.http.post("/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin)
    body = deal(stub_api.name("moon"), partner_id=partner_id, approver="carol", signatory="sam")
    bad = copy.deepcopy(body)
    edit(bad)
    owner = await stub_api.auth(stub_api.name("olivia"), "owner")
    assert_problem(await stub_api.http.post("/v1/deals", json=bad, headers=owner), 422, field=field)
    assert await deals.get(stub_api.pool, body["deal_id"]) is None, case


REPORT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("gross 1e30", {**REPORT_LINE, "gross_sales": "1e30"}, "body.lines.0.gross_sales"),
    ("gross 1e17", {**REPORT_LINE, "gross_sales": "1e17"}, "body.lines.0.gross_sales"),
    (
        "EUR gross with 3 decimals",
        {**REPORT_LINE, "gross_sales": "55000.001"},
        "body.lines.0.gross_sales",
    ),
    ("NUL in the sku", {**REPORT_LINE, "sku": "MB\u0000"}, "body.lines.0.sku"),
    ("region on a line", {**REPORT_LINE, "territory": "eu"}, "body.lines.0.territory"),
    ("no ISO 3166 code", {**REPORT_LINE, "territory": "Germany"}, "body.lines.0.territory"),
    ("negative returns", {**REPORT_LINE, "returns": -1}, "body.lines.0.returns"),
    (
        "EUR returns with 3 decimals",
        {**REPORT_LINE, "returns": "100.005"},
        "body.lines.0.returns",
    ),
    ("units above the maximum", {**REPORT_LINE, "units": 10**10}, "body.lines.0.units"),
]


@pytest.mark.parametrize(("case", "line", "field"), REPORT_CASES, ids=[c[0] for c in REPORT_CASES])
async def test_bad_report_figures_are_422_and_nothing_is_stored(
    stub_api: Api, case: str, line: dict[str, Any], field: str
) -> None:
    deal_id, headers = await _deal_with_partner_token(stub_api)
    resp = await stub_api.http.post(
        f"/v1/deals/{deal_id}/sales-reports", json={"period": 1, "lines": [line]}, headers=headers
    )
    assert_problem(resp, 422, field=field)
    assert await sales.for_deal(stub_api.pool, deal_id) == [], case


async def test_a_partner_scope_with_an_unknown_territory_is_422(stub_api: Api) -> None:
    admin = await stub_api.auth("ada", "admin")
    body = partner(stub_api.name("acme"), "acme-ops")
    body["scope"]["territories"] = ["NORDICS", "ZZ"]
    resp = await stub_api.http.post("/v1/partners", json=body, headers=admin)
    assert "ISO 3166-1" in assert_problem(resp, 422, field="body.scope.territories.1")["detail"]


async def test_report_lines_are_capped(stub_api: Api) -> None:
    deal_id, headers = await _deal_with_partner_token(stub_api)
    resp = await stub_api.http.post(
        f"/v1/deals/{deal_id}/sales-reports",
        json={"period": 1, "lines": [REPORT_LINE] * 5001},
        headers=headers,
    )
    assert_problem(resp, 422, field="body.lines")


async def test_decision_comment_without_control_characters(stub_api: Api) -> None:
    """On a task the caller may decide: an invalid body on any other is the 404 of an
    unknown task (authorization before validation, api/gates.py)."""
    deal_id, _ = await _deal_with_partner_token(stub_api)
    carol = await stub_api.auth("carol", "approver")
    resp = await stub_api.http.post(
        f"/v1/tasks/deal-{deal_id}:plan-approval/decision",
        json={"decision": "reject", "comment": "multi-line\nis fine, but not \u0007"},
        headers=carol,
    )
    assert_problem(resp, 422, field="body.comment")


async def _deal_with_partner_token(api: Api) -> tuple[str, dict[str, str]]:
    admin = await api.auth("ada", "admin")
    partner_id = api.name("acme")
    await api.http.post("/v1/partners", json=partner(partner_id, "acme-ops"), headers=admin)
    body = deal(api.name("moon"), partner_id=partner_id, approver="carol", signatory="sam")
    owner = await api.auth(api.name("olivia"), "owner")
    assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
    return body["deal_id"], await api.auth("acme-ops", "partner", partner_id=partner_id)
