"""Sales reports: persisted first, signalled once, duplicates and corrections."""

from __future__ import annotations

import copy
from typing import Any

from api_helpers import Api, assert_problem, eventually
from api_samples import REPORT_LINE, deal, partner

from domain.lifecycle import DealState
from store import sales

REPORT: dict[str, Any] = {"period": 1, "lines": [REPORT_LINE]}


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
