"""The sample deal body parses; malformed input is refused."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain import examples
from domain.deal import DealRequest, Right

SAMPLE: dict[str, Any] = examples.DEAL
"""The OpenAPI example deal request (the README walkthrough body)."""


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)


def test_sample_parses() -> None:
    deal = DealRequest.model_validate(sample())
    assert deal.deal_id == "moonbear-eu"
    assert deal.property.rights == [Right.BRAND, Right.PRODUCT]
    assert deal.terms.royalty_tiers[0].rate == Decimal("0.08")
    assert deal.terms.royalty_tiers[1].up_to is None
    assert deal.terms.minimum_guarantee_per_year == Decimal("60000")
    assert deal.schedule.term_periods == 36
    assert set(deal.plan.scope.categories) == {"apparel"} and "FR" in deal.plan.scope.territories
    assert [s.quorum for s in deal.partner_approval_chain] == ["any", "any"]


def test_sample_roundtrips_through_json() -> None:
    deal = DealRequest.model_validate(sample())
    assert DealRequest.model_validate_json(deal.model_dump_json()) == deal


def _mutated(path: list[str | int], value: Any) -> dict[str, Any]:
    body = sample()
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["terms", "royalty_tiers", 0, "rate"], 1),
        (["terms", "royalty_tiers", 1, "rate"], 1.5),
        (["terms", "royalty_tiers", 0, "rate"], 0),
        (["property", "rights"], ["brand", "merchandise"]),
        (["needs", "objectives", 0, "kind"], "world_domination"),
        (
            ["terms", "royalty_tiers"],
            [{"up_to": 500000, "rate": 0.08}, {"up_to": 400000, "rate": 0.1}],
        ),
        (
            ["terms", "royalty_tiers"],
            [{"up_to": 500000, "rate": 0.08}, {"up_to": 500000, "rate": 0.1}],
        ),
        (
            ["terms", "royalty_tiers"],
            [{"up_to": None, "rate": 0.08}, {"up_to": 500000, "rate": 0.1}],
        ),
        (["schedule", "term_periods"], 30),
        (["schedule", "period"], "monthly"),
        (["deal_id"], "Moon Bear!"),
        (["terms", "advance"], -1),
        (["partners"], []),
    ],
)
def test_bad_input_raises(path: list[str | int], value: Any) -> None:
    with pytest.raises(ValidationError):
        DealRequest.model_validate(_mutated(path, value))


def test_unknown_field_raises() -> None:
    body = sample()
    body["surprise"] = True
    with pytest.raises(ValidationError):
        DealRequest.model_validate(body)


def test_the_openapi_examples_are_valid_bodies() -> None:
    from domain import examples
    from domain.deal import DealRequest
    from domain.partner import PartnerProfile
    from domain.sales import SalesReport

    assert DealRequest.model_validate(examples.DEAL).partners == [examples.PARTNER["partner_id"]]
    PartnerProfile.model_validate(examples.PARTNER)
    SalesReport.model_validate(examples.SALES_REPORT)
    DealRequest.model_validate(examples.DEAL_WITH_RATE_CARD)
    assert DealRequest.model_json_schema()["examples"] == [
        examples.DEAL,
        examples.DEAL_WITH_RATE_CARD,
    ]
