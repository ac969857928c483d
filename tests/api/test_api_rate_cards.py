"""Rate cards through the API: the statement's per-row breakdown (stored row and API view),
a bad rate card refused naming the field, the OpenAPI document, and the licensee's terms."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from api_helpers import Api, assert_problem
from test_api_statements import issue, seed_deal

from api.partner_view import partner_terms
from domain import examples
from domain.deal import DealRequest, Plan
from domain.deal_state import DealState, PeriodRecord, Stage
from domain.rate_cards import RowRoyalty

D = Decimal


async def test_a_statement_shows_which_row_applied(api: Api) -> None:
    moon = api.name("moon")
    await seed_deal(api, moon, "acme", "olivia")
    breakdown = [
        RowRoyalty(
            row=0,
            label="apparel/DE/online",
            basis="tiers",
            net_sales=D("60000.00"),
            units=10,
            royalty_earned=D("4800.00"),
        ),
        RowRoyalty(
            row=1,
            label="toys",
            basis="per_unit",
            net_sales=D(30_000),
            units=10_000,
            royalty_earned=D(5_000),
        ),
        RowRoyalty(
            row=None, label="default", basis="tiers", net_sales=D(30_000), royalty_earned=D(1_500)
        ),
    ]
    with_rows = await issue(
        api, moon, "y1:p1", "0.00", breakdown=[r.model_dump() for r in breakdown]
    )
    without = await issue(api, moon, "y1:p2", "10.00")
    finance = await api.auth("fiona", "finance")

    body = (await api.http.get(f"/v1/statements/{with_rows}", headers=finance)).json()
    assert [
        (r["row"], r["label"], r["basis"], r["net_sales"], r["units"], r["royalty_earned"])
        for r in body["breakdown"]
    ] == [
        (0, "apparel/DE/online", "tiers", "60000.00", 10, "4800.00"),
        (1, "toys", "per_unit", "30000", 10000, "5000"),
        (None, "default", "tiers", "30000", None, "1500"),
    ]
    plain = (await api.http.get(f"/v1/statements/{without}", headers=finance)).json()
    assert plain["breakdown"] == []
    listed = await api.http.get("/v1/statements", params={"deal_id": moon}, headers=finance)
    assert {r["statement_id"]: len(r["breakdown"]) for r in listed.json()} == {
        with_rows: 3,
        without: 0,
    }


async def test_a_bad_rate_card_is_a_422_naming_the_field(api: Api) -> None:
    owner = await api.auth(api.name("olivia"), "owner")
    body = copy.deepcopy(examples.DEAL_WITH_RATE_CARD)
    body["deal_id"] = api.name("bad-card")
    body["terms"]["rate_card"][1] = {
        "category": "toys",
        "per_unit": 0.5,
        "royalty_tiers": [{"rate": 0.1}],
    }
    assert_problem(
        await api.http.post("/v1/deals", json=body, headers=owner),
        422,
        field="body.terms.rate_card.1",
    )
    body["terms"]["rate_card"][1] = {"category": "toys", "per_unit": "0.50"}
    body["terms"]["minimum_guarantee_per_year"] = 1000
    assert_problem(
        await api.http.post("/v1/deals", json=body, headers=owner),
        422,
        field="body.terms.minimum_guarantee_schedule",
    )


async def test_openapi_shows_the_rate_card_fields(api: Api) -> None:
    schemas = (await api.http.get("/openapi.json")).json()["components"]["schemas"]
    terms = schemas["Terms-Input"]["properties"]
    assert {"rate_card", "minimum_guarantee_schedule", "advance_recoupable_across_term"} <= set(
        terms
    )
    assert terms["rate_card"]["maxItems"] == 50
    assert terms["minimum_guarantee_schedule"]["maxItems"] == 100
    assert {"category", "territory", "channel", "royalty_tiers", "per_unit", "label"} == set(
        schemas["RateCardRow-Input"]["properties"]
    )
    assert "breakdown" in schemas["StatementOut"]["properties"]
    deal_examples = schemas["DealRequest-Input"]["examples"]
    assert any(e["terms"].get("rate_card") for e in deal_examples)


def state_of(request: DealRequest, **extra: Any) -> DealState:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return DealState(
        deal_id=request.deal_id,
        title=request.title,
        owner="olivia",
        stage=Stage.MONITORING,
        plan=Plan.model_validate(request.plan.model_dump()),
        term_periods=6,
        periods=[
            PeriodRecord(
                period=1,
                contract_year=1,
                starts_at=at,
                ends_at=at,
                report_due_at=at,
                royalty_earned=D(11_300),
            )
        ],
        **extra,
    )


def test_the_licensee_sees_the_rate_card_and_the_advance_still_to_recoup() -> None:
    request = DealRequest.model_validate(examples.DEAL_WITH_RATE_CARD)
    # recoupable: the workflow's figure (the books after year 1: 50,000 - 20,500 = 29,500)
    terms = partner_terms(request.terms, state_of(request, advance_unrecouped=D(29_500)))
    seen = terms.model_dump(mode="json")
    assert seen["unrecouped_advance"] == "29500"
    assert seen["advance_recoupable_across_term"] is True
    assert seen["minimum_guarantee_schedule"] == ["20000", "30000", "40000"]
    assert [r.get("label") for r in seen["rate_card"]] == [None, "toys"]


def test_terms_without_a_rate_card_read_as_before() -> None:
    request = DealRequest.model_validate(examples.DEAL)
    seen = partner_terms(request.terms, state_of(request)).model_dump(mode="json")
    # the advance less the year-1 royalty so far: 20,000 - 11,300 = 8,700
    assert seen == {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": "500000", "rate": "0.08"}, {"up_to": None, "rate": "0.1"}],
        "advance": "20000",
        "unrecouped_advance": "8700",
        "minimum_guarantee_per_year": "60000",
        "payment_terms": "P30D",
        "unlicensed": {"policy": "charge_highest_rate", "rate": None},
    }
