"""Sales reports: persisted first, signalled once, duplicates and corrections."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import Api, assert_problem, eventually
from api_samples import REPORT_LINE, deal, partner

from activities.deal import DealActivities
from api.routes.sales import report_hash
from domain.common import LicensedScope
from domain.deal import Kpi
from domain.deal_activity_io import SalesCheckInput
from domain.deal_state import DealState
from domain.sales import SalesLine, SalesReport
from store import deals, sales

REPORT: dict[str, Any] = {"period": 1, "lines": [REPORT_LINE]}
KPI = Kpi(target_per_period=Decimal("40000"))


async def _deal(api: Api) -> tuple[str, str]:
    partner_id = api.name("acme")
    admin = await api.auth("ada", "admin")
    body = partner(partner_id, "acme-ops")
    assert (await api.http.post("/v1/partners", json=body, headers=admin)).status_code == 201
    request = deal(
        api.name("moon"), partner_id=partner_id, approver=api.name("carol"), signatory="sam"
    )
    owner = await api.auth(api.name("olivia"), "owner")
    assert (await api.http.post("/v1/deals", json=request, headers=owner)).status_code == 201
    return request["deal_id"], partner_id


async def _received(api: Api, deal_id: str) -> list[str]:
    handle = api.client.get_workflow_handle(f"deal-{deal_id}")
    state = await handle.query("state", result_type=DealState)
    return [h.detail or "" for h in state.history if h.event == "sales_report_received"]


async def test_report_duplicate_conflict_and_correction(stub_api: Api) -> None:
    deal_id, partner_id = await _deal(stub_api)
    path = f"/v1/deals/{deal_id}/sales-reports"
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)

    first = await stub_api.http.post(path, json=REPORT, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "report_id": f"{deal_id}:p1:v1",
        "deal_id": deal_id,
        "period": 1,
        "version": 1,
        "status": "accepted",
    }
    same = await stub_api.http.post(path, json=REPORT, headers=headers)
    assert same.status_code == 200
    assert (same.json()["version"], same.json()["status"]) == (1, "duplicate")

    changed = copy.deepcopy(REPORT)
    changed["lines"][0]["units"] = 1100
    assert (
        "correction"
        in assert_problem(await stub_api.http.post(path, json=changed, headers=headers), 409)[
            "detail"
        ]
    )
    assert_problem(
        await stub_api.http.post(path, json={**changed, "correction": True}, headers=headers),
        422,
        field="body",
    )
    corrected = await stub_api.http.post(
        path, json={**changed, "correction": True, "reason": "late returns"}, headers=headers
    )
    assert corrected.status_code == 201
    assert corrected.json()["version"] == 2

    # signals arrive in order: exactly one per stored version, none for the duplicate
    received = await eventually(lambda: _received(stub_api, deal_id), lambda r: len(r) == 2)
    assert received == ["1/1/1", "1/2/1"]
    rows = await sales.for_deal(stub_api.pool, deal_id)
    assert [(r["version"], r["correction"], r["reason"]) for r in rows] == [
        (1, False, None),
        (2, True, "late returns"),
    ]
    log = await stub_api.pool.fetch(
        "SELECT action, subject FROM audit_log WHERE action LIKE 'sales_report.%' ORDER BY id"
    )
    assert [(r["action"], r["subject"]) for r in log] == [
        ("sales_report.submit", f"{deal_id}:p1:v1"),
        ("sales_report.correct", f"{deal_id}:p1:v2"),
    ]


async def test_empty_report_means_no_sales(stub_api: Api) -> None:
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    resp = await stub_api.http.post(
        f"/v1/deals/{deal_id}/sales-reports", json={"period": 2, "lines": []}, headers=headers
    )
    assert resp.status_code == 201
    assert await eventually(lambda: _received(stub_api, deal_id), lambda r: len(r) == 1) == [
        "2/1/0"
    ]


async def test_only_the_deals_partner_reports(stub_api: Api) -> None:
    deal_id, partner_id = await _deal(stub_api)
    path = f"/v1/deals/{deal_id}/sales-reports"
    for headers in (
        await stub_api.auth("zeta-ops", "partner", partner_id="zeta"),
        await stub_api.auth(stub_api.name("olivia"), "owner"),
        await stub_api.auth("oscar", "ops"),
    ):
        assert_problem(await stub_api.http.post(path, json=REPORT, headers=headers), 403)
    assert_problem(await stub_api.http.post(path, json=REPORT), 401)
    partner_headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    assert_problem(
        await stub_api.http.post(
            "/v1/deals/ghost/sales-reports", json=REPORT, headers=partner_headers
        ),
        404,
    )
    assert_problem(
        await stub_api.http.post(path, json={**REPORT, "period": 13}, headers=partner_headers),
        422,
        field="body.period",
    )
    bad = copy.deepcopy(REPORT)
    bad["lines"][0]["deductions"] = 60000
    assert_problem(
        await stub_api.http.post(path, json=bad, headers=partner_headers),
        422,
        field="body.lines.0",
    )
    assert await sales.for_deal(stub_api.pool, deal_id) == []


async def test_identical_resubmission_resends_a_signal_that_never_arrived(stub_api: Api) -> None:
    """Stored but never signalled (signal failed after the insert): the client's retry of the
    same body answers 200 and delivers the signal once; later repeats stay silent."""
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    await sales.insert_version(
        stub_api.pool,
        report_id=f"{deal_id}:p1:v1",
        deal_id=deal_id,
        period=1,
        version=1,
        lines=REPORT["lines"],
        body_hash=report_hash(SalesReport.model_validate(REPORT)),
        submitted_by="acme-ops",
    )
    path = f"/v1/deals/{deal_id}/sales-reports"
    retry = await stub_api.http.post(path, json=REPORT, headers=headers)
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "duplicate"
    assert await eventually(lambda: _received(stub_api, deal_id), lambda r: len(r) == 1) == [
        "1/1/1"
    ]
    again = await stub_api.http.post(path, json=REPORT, headers=headers)
    assert again.status_code == 200
    assert await sales.unsignalled(stub_api.pool) == []
    assert await _received(stub_api, deal_id) == ["1/1/1"]


async def test_identical_report_losing_the_insert_race_is_a_duplicate(
    stub_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two identical posts both read "no report yet"; the one whose insert loses answers 200."""
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    path = f"/v1/deals/{deal_id}/sales-reports"
    assert (await stub_api.http.post(path, json=REPORT, headers=headers)).status_code == 201
    real_latest = sales.latest
    reads = 0

    async def stale_first_read(*args: Any) -> dict[str, Any] | None:
        nonlocal reads
        reads += 1
        return None if reads == 1 else await real_latest(*args)

    monkeypatch.setattr(sales, "latest", stale_first_read)
    raced = await stub_api.http.post(path, json=REPORT, headers=headers)
    assert raced.status_code == 200, raced.text
    assert (raced.json()["report_id"], raced.json()["status"]) == (f"{deal_id}:p1:v1", "duplicate")
    assert len(await sales.for_deal(stub_api.pool, deal_id)) == 1
    changed = copy.deepcopy(REPORT)
    changed["lines"][0]["units"] = 7
    reads = 0
    assert_problem(await stub_api.http.post(path, json=changed, headers=headers), 409)


async def test_concurrent_identical_reports_store_one_version(stub_api: Api) -> None:
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    path = f"/v1/deals/{deal_id}/sales-reports"
    replies = await asyncio.gather(
        *(stub_api.http.post(path, json=REPORT, headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in replies) == [200, 200, 200, 201], [r.text for r in replies]
    assert {r.json()["report_id"] for r in replies} == {f"{deal_id}:p1:v1"}
    assert len(await sales.for_deal(stub_api.pool, deal_id)) == 1


async def test_returns_above_gross_are_a_negative_line_accepted(stub_api: Api) -> None:
    """Goods returned this period may exceed what was sold in it: the line is net negative."""
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    returned = {**REPORT_LINE, "gross_sales": 1000, "deductions": 100, "returns": 4000}
    resp = await stub_api.http.post(
        f"/v1/deals/{deal_id}/sales-reports",
        json={"period": 1, "lines": [returned]},
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    [row] = await sales.for_deal(stub_api.pool, deal_id)
    stored = SalesLine.model_validate(row["lines"][0])
    assert (stored.returns, stored.net_sales) == (Decimal("4000"), Decimal("-3100"))
    assert await eventually(lambda: _received(stub_api, deal_id), lambda r: len(r) == 1) == [
        "1/1/1"
    ]


async def test_a_lowercase_territory_matches_the_upper_case_scope(stub_api: Api) -> None:
    """Codes are normalised on input ("de" is stored as "DE", "Apparel" as "apparel") and
    compared normalised by the sales check, so a report stored before that matches too."""
    deal_id, partner_id = await _deal(stub_api)
    headers = await stub_api.auth("acme-ops", "partner", partner_id=partner_id)
    spelled = {**REPORT_LINE, "category": "Apparel", "territory": "de", "channel": "ONLINE"}
    resp = await stub_api.http.post(
        f"/v1/deals/{deal_id}/sales-reports",
        json={"period": 1, "lines": [spelled]},
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    [row] = await sales.for_deal(stub_api.pool, deal_id)
    line = row["lines"][0]
    assert (line["category"], line["territory"], line["channel"]) == ("apparel", "DE", "online")
    # and a period stored before codes were normalised (lower case as the partner sent it)
    await sales.insert_version(
        stub_api.pool,
        report_id=f"{deal_id}:p2:v1",
        deal_id=deal_id,
        period=2,
        version=1,
        lines=[spelled],
        body_hash="legacy",
        submitted_by="acme-ops",
    )
    stored = await eventually(lambda: deals.get(stub_api.pool, deal_id), bool)
    scope = LicensedScope.model_validate(stored["request"]["plan"]["scope"])
    assert scope.territories == ["DE", "FR"]
    check = DealActivities(stub_api.pool).check_sales
    for period in (1, 2):
        result = await check(
            SalesCheckInput(deal_id=deal_id, period=period, scope=scope, kpis=[KPI])
        )
        assert result.check.unlicensed_lines == [], period
        assert result.check.net_sales == Decimal("50000"), period


async def test_deal_scope_codes_are_normalised_on_input(stub_api: Api) -> None:
    partner_id = stub_api.name("acme")
    admin = await stub_api.auth("ada", "admin")
    body = partner(partner_id, "acme-ops")
    body["scope"] = {"categories": ["Apparel"], "territories": ["dach"], "channels": ["Web"]}
    assert (await stub_api.http.post("/v1/partners", json=body, headers=admin)).status_code == 201
    profile = (await stub_api.http.get(f"/v1/partners/{partner_id}", headers=admin)).json()
    assert profile["scope"] == {
        "categories": ["apparel"],
        "territories": ["DE", "AT", "CH"],
        "channels": ["web"],
    }
    request = deal(stub_api.name("moon"), partner_id=partner_id, approver="carol", signatory="s")
    request["plan"]["scope"] = {
        "categories": ["APPAREL", "apparel"],
        "territories": ["fr", "Benelux", "FR"],
        "channels": ["Online"],
    }
    owner = await stub_api.auth(stub_api.name("olivia"), "owner")
    assert (await stub_api.http.post("/v1/deals", json=request, headers=owner)).status_code == 201
    stored = await eventually(lambda: deals.get(stub_api.pool, request["deal_id"]), bool)
    assert stored["request"]["plan"]["scope"] == {
        "categories": ["apparel"],
        "territories": ["FR", "BE", "NL", "LU"],
        "channels": ["online"],
        "exclusive": False,
    }
