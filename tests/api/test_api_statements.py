"""Statements as invoices through the API: payments (finance), listing with overdue, one
statement with its payments, and the licensee's view of its terms and invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from api_helpers import Api, assert_problem, audit_row
from api_samples import deal, partner

from api.partner_view import year_earned
from domain.deal import Plan
from domain.deal_state import DealState, PeriodRecord, Stage, YearSummary
from store import deals, statements

ISSUED = datetime(2027, 3, 1, tzinfo=UTC)


async def seed_deal(api: Api, deal_id: str, partner_id: str, owner: str) -> None:
    """A deal row (no workflow): enough for statements, payments and their listing."""
    await deals.upsert(
        api.pool,
        deal_id=deal_id,
        workflow_id=f"deal-{deal_id}",
        title="Moon Bear",
        owner=owner,
        stage="monitoring",
        request={},
        request_hash="x",
        partner_id=partner_id,
    )


async def issue(
    api: Api, deal_id: str, key: str, amount_due: str, currency: str = "EUR", **extra: Any
) -> str:
    statement_id = f"{deal_id}:{key}"
    await statements.insert(
        api.pool,
        statement_id=statement_id,
        deal_id=deal_id,
        kind=extra.pop("kind", "period"),
        contract_year=1,
        period=1,
        net_sales=Decimal("1000.00"),
        royalty_earned=Decimal("80.00"),
        guaranteed_due=Decimal(0),
        amount_due=Decimal(amount_due),
        currency=currency,
        issued_at=extra.pop("issued_at", ISSUED),
        **extra,
    )
    return statement_id


def pay_path(statement_id: str) -> str:
    return f"/v1/statements/{statement_id}/payments"


async def test_partial_then_full_payment_settles_the_invoice(api: Api) -> None:
    moon = api.name("moon")
    await seed_deal(api, moon, "acme", "olivia")
    statement_id = await issue(api, moon, "y1:p1", "100.00")
    finance = await api.auth("fiona", "finance")
    received = datetime(2027, 3, 20, 9, 30, tzinfo=UTC)

    first = await api.http.post(
        pay_path(statement_id),
        json={"amount": "40.00", "reference": "BANK-0001", "received_at": received.isoformat()},
        headers=finance,
    )
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["paid_amount"], body["balance"]) == ("open", "40.00", "60.00")
    assert body["invoice_number"] == "LF-000001"
    assert [(p["amount"], p["reference"], p["recorded_by"]) for p in body["payments"]] == [
        ("40.00", "BANK-0001", "fiona")
    ]
    audit = await audit_row(api, moon, "statement.payment")
    assert audit["actor"] == "fiona"
    assert audit["detail"]["amount"] == "40.00" and audit["detail"]["settled"] is False

    last = datetime(2027, 4, 2, tzinfo=UTC)
    rest = await api.http.post(
        pay_path(statement_id),
        json={"amount": 60, "reference": "BANK-0002", "received_at": last.isoformat()},
        headers=await api.auth("ada", "admin"),
    )
    assert rest.status_code == 201, rest.text
    done = rest.json()
    assert (done["status"], done["balance"], done["overdue"]) == ("paid", "0.00", False)
    assert datetime.fromisoformat(done["paid_at"]) == last
    assert len(done["payments"]) == 2

    again = await api.http.post(
        pay_path(statement_id), json={"amount": "40.00", "reference": "BANK-0001"}, headers=finance
    )
    assert again.status_code == 200, again.text  # the same payment posted again
    assert again.json() == done
    rows = await api.pool.fetch(
        "SELECT detail FROM audit_log WHERE deal_id = $1 AND action = 'statement.payment'", moon
    )
    assert len(rows) == 2

    other = {"amount": "40.00", "reference": "BANK-0001-X"}
    closed = await api.http.post(pay_path(statement_id), json=other, headers=finance)
    assert "is paid" in assert_problem(closed, 409)["detail"]
    clash = {"amount": "10.00", "reference": "BANK-0001"}
    assert_problem(
        await api.http.post(pay_path(statement_id), json=clash, headers=finance),
        409,
        field="body.reference",
    )


async def test_payments_are_refused_naming_the_field(api: Api) -> None:
    moon = api.name("moon")
    await seed_deal(api, moon, "acme", "olivia")
    invoice = await issue(api, moon, "y1:p1", "100.00")
    yen = await issue(api, moon, "y1:p2", "5000", currency="JPY")
    credit = await issue(api, moon, "y1:p1:v2", "-40.00", kind="credit_note")
    finance = await api.auth("fiona", "finance")

    async def refused(statement_id: str, field: str, **body: Any) -> str:
        body.setdefault("reference", "R-1")
        resp = await api.http.post(pay_path(statement_id), json=body, headers=finance)
        detail: str = assert_problem(resp, 422, field=field)["detail"]
        return detail

    assert "open balance of 100.00 EUR" in await refused(invoice, "body.amount", amount="100.01")
    assert "is positive" in await refused(invoice, "body.amount", amount="-5.00")
    assert "cannot be zero" in await refused(invoice, "body.amount", amount="0")
    assert "at most 0 decimals" in await refused(yen, "body.amount", amount="100.5")
    assert "is negative" in await refused(credit, "body.amount", amount="10.00")
    await refused(invoice, "body.amount", amount="1e20")
    await refused(invoice, "body.reference", amount="1.00", reference="a\x00b")
    await refused(invoice, "body.reference", amount="1.00", reference="")
    await refused(invoice, "body.received_at", amount="1.00", received_at="2027-03-02T10:00:00")
    await refused(invoice, "body.payer", amount="1.00", payer="someone")

    refund = await api.http.post(
        pay_path(credit), json={"amount": "-40.00", "reference": "REFUND-1"}, headers=finance
    )
    assert refund.status_code == 201, refund.text
    assert (refund.json()["status"], refund.json()["balance"]) == ("paid", "0.00")
    yen_paid = await api.http.post(
        pay_path(yen), json={"amount": 1000, "reference": "Y-1"}, headers=finance
    )
    assert yen_paid.json()["balance"] == "4000"

    body = {"amount": "10.00", "reference": "R-2"}
    for headers in (
        await api.auth("olivia", "owner"),
        await api.auth("oscar", "ops"),
        await api.auth("acme-ops", "partner", partner_id="acme"),
        await api.auth("bob", "approver"),
    ):
        assert_problem(await api.http.post(pay_path(invoice), json=body, headers=headers), 403)
    assert_problem(await api.http.post(pay_path(invoice), json=body), 401)
    assert_problem(await api.http.post(pay_path(f"{moon}:nope"), json=body, headers=finance), 404)
    row = await statements.get(api.pool, invoice)
    assert row is not None and row["paid_amount"] == 0  # nothing refused was stored


async def test_listing_by_status_deal_and_partner_with_overdue(api: Api) -> None:
    moon, sun = api.name("moon"), api.name("sun")
    acme, zeta = api.name("acme"), api.name("zeta")
    await seed_deal(api, moon, acme, "olivia")
    await seed_deal(api, sun, zeta, "otto")
    now = datetime.now(UTC)
    late = await issue(api, moon, "p1", "100.00", issued_at=now - timedelta(days=40))
    current = await issue(api, moon, "p2", "50.00", issued_at=now - timedelta(days=2))
    nothing = await issue(api, moon, "p3", "0.00", issued_at=now - timedelta(days=2))
    foreign = await issue(api, sun, "p1", "70.00", issued_at=now - timedelta(days=50))
    finance = await api.auth("fiona", "finance")

    async def listing(headers: dict[str, str], **params: str) -> list[str]:
        resp = await api.http.get("/v1/statements", params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        return [s["statement_id"] for s in resp.json() if s["deal_id"] in (moon, sun)]

    assert await listing(finance) == [foreign, late, current, nothing]  # soonest due first
    assert await listing(finance, status="overdue") == [foreign, late]
    assert await listing(finance, status="open") == [foreign, late, current]
    assert await listing(finance, status="paid") == [nothing]
    assert await listing(finance, status="void") == []
    assert await listing(finance, deal_id=moon, status="overdue") == [late]
    assert await listing(finance, partner_id=zeta) == [foreign]
    rows = (await api.http.get("/v1/statements", params={"deal_id": moon}, headers=finance)).json()
    overdue = {r["statement_id"]: r["overdue"] for r in rows}
    assert overdue == {late: True, current: False, nothing: False}
    assert rows[0]["due_at"] and rows[0]["balance"] == "100.00"

    assert await listing(await api.auth("ada", "admin"), deal_id=sun) == [foreign]
    assert await listing(await api.auth("olivia", "owner")) == [late, current, nothing]
    licensee = await api.auth("zeta-ops", "partner", partner_id=zeta)
    assert await listing(licensee) == [foreign]
    assert await listing(licensee, deal_id=moon) == []  # never another partner's
    assert_problem(
        await api.http.get("/v1/statements", headers=await api.auth("bob", "approver")), 403
    )
    assert_problem(
        await api.http.get("/v1/statements", params={"status": "late"}, headers=finance),
        422,
        field="query.status",
    )

    one = await api.http.get(f"/v1/statements/{late}", headers=licensee)
    assert_problem(one, 403)
    mine = await api.http.get(f"/v1/statements/{foreign}", headers=licensee)
    assert mine.status_code == 200 and mine.json()["payments"] == []
    assert_problem(await api.http.get(f"/v1/statements/{moon}:p9", headers=finance), 404)


async def test_licensee_sees_its_terms_and_only_its_invoices(stub_api: Api) -> None:
    api = stub_api
    admin = await api.auth("ada", "admin")
    owner = await api.auth(api.name("olivia"), "owner")
    bodies = []
    for name in ("acme", "zeta"):
        partner_id = api.name(name)
        resp = await api.http.post(
            "/v1/partners", json=partner(partner_id, f"{name}-ops"), headers=admin
        )
        assert resp.status_code == 201, resp.text
        body = deal(
            api.name(f"deal-{name}"),
            partner_id=partner_id,
            approver=api.name("carol"),
            signatory=api.name("sam"),
        )
        body["terms"]["payment_terms"] = "P45D"
        assert (await api.http.post("/v1/deals", json=body, headers=owner)).status_code == 201
        await audit_row(api, body["deal_id"], "deal.create")  # the deal row is written
        bodies.append(body)
    mine, theirs = bodies[0]["deal_id"], bodies[1]["deal_id"]
    invoice = await issue(api, mine, "y1:p1", "100.00")
    await issue(api, mine, "y1:p2", "0.00")
    foreign = await issue(api, theirs, "y1:p1", "70.00")
    paid = await api.http.post(
        pay_path(invoice),
        json={"amount": "30.00", "reference": "BANK-1"},
        headers=await api.auth("fiona", "finance"),
    )
    assert paid.status_code == 201, paid.text

    licensee = await api.auth("acme-ops", "partner", partner_id=api.name("acme"))
    seen = (await api.http.get(f"/v1/deals/{mine}", headers=licensee)).json()
    assert seen["request"] is None and seen["history"] == []
    assert seen["terms"] == {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": "100000", "rate": "0.08"}, {"up_to": None, "rate": "0.1"}],
        "advance": "5000",
        "unrecouped_advance": "5000",
        "minimum_guarantee_per_year": "20000",
        "payment_terms": "P45D",
        "unlicensed": {"policy": "charge_highest_rate", "rate": None},
    }
    assert [(i["statement_id"], i["balance"]) for i in seen["invoices"]] == [
        (f"{mine}:y1:p1", "70.00"),
        (f"{mine}:y1:p2", "0.00"),
    ]
    assert [p["reference"] for p in seen["invoices"][0]["payments"]] == ["BANK-1"]
    assert_problem(await api.http.get(f"/v1/deals/{theirs}", headers=licensee), 403)
    assert_problem(await api.http.get(f"/v1/deals/{theirs}/statements", headers=licensee), 403)
    assert_problem(await api.http.get(f"/v1/statements/{foreign}", headers=licensee), 403)

    staff = (await api.http.get(f"/v1/deals/{mine}", headers=owner)).json()
    assert staff["terms"] is None and staff["invoices"] is None
    assert staff["request"]["terms"]["payment_terms"] == "P45D"

    finance = await api.auth("fiona", "finance")
    rows = await api.http.get(f"/v1/deals/{mine}/statements", headers=finance)
    assert rows.status_code == 200, rows.text
    assert [(r["invoice_number"], r["status"], r["paid_amount"]) for r in rows.json()] == [
        ("LF-000001", "open", "30.00"),
        (None, "paid", "0"),
    ]
    assert_problem(await api.http.get(f"/v1/deals/{mine}", headers=finance), 403)


def test_year_one_royalty_comes_from_its_periods_then_its_summary() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)

    def period(n: int, year: int, earned: str) -> PeriodRecord:
        at = start + timedelta(days=30 * n)
        return PeriodRecord(
            period=n,
            contract_year=year,
            starts_at=at,
            ends_at=at,
            report_due_at=at,
            royalty_earned=Decimal(earned),
        )

    plan = Plan.model_validate(deal("x", partner_id="p", approver="a", signatory="s")["plan"])
    state = DealState(
        deal_id="x",
        title="X",
        owner="olivia",
        stage=Stage.MONITORING,
        plan=plan,
        term_periods=24,
        periods=[period(1, 1, "1600.00"), period(2, 1, "2400.00"), period(13, 2, "900.00")],
    )
    assert year_earned(state, 1) == Decimal("4000.00")
    closed = state.model_copy(
        update={"years": [YearSummary(contract_year=1, royalty_earned=Decimal("4800.00"))]}
    )
    assert year_earned(closed, 1) == Decimal("4800.00")
