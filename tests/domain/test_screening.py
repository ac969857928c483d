"""Partner screening: scope coverage, weighted score, insurance and risk flags."""

from __future__ import annotations

from decimal import Decimal

from factories import partner_profile

from domain.approval import ScreeningSettings, ScreeningWeights
from domain.bounds import RECORDED
from domain.common import LicensedScope, PartnerScope
from domain.partner import Evaluation, Risk
from domain.screening import screen_partner, weighted_score

SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])


def test_good_partner_passes() -> None:
    result = screen_partner(partner_profile(), SCOPE, ScreeningSettings())
    assert result.passed
    assert result.reasons == []
    assert result.score == 4.0


def test_each_missing_scope_item_is_a_reason() -> None:
    narrow = PartnerScope(categories=["toys"], territories=["DE"], channels=["retail"])
    result = screen_partner(partner_profile(scope=narrow), SCOPE, ScreeningSettings())
    assert not result.passed
    assert result.reasons == [
        "category apparel not covered by partner scope",
        "territory FR not covered by partner scope",
        "channel online not covered by partner scope",
    ]


def test_weighted_score_and_rounding() -> None:
    weights = ScreeningWeights(cost=2, quality=1, efficiency=0, complementarity=0)
    settings = ScreeningSettings(weights=weights)
    evaluation = Evaluation(cost=3, quality=4, efficiency=1, complementarity=1)
    # (2*3 + 1*4) / 3 = 3.333... -> 3.33
    assert weighted_score(partner_profile(evaluation=evaluation), settings) == 3.33


def test_score_below_pass_mark_fails() -> None:
    low = Evaluation(cost=2, quality=3, efficiency=2, complementarity=3)
    result = screen_partner(partner_profile(evaluation=low), SCOPE, ScreeningSettings(pass_mark=3))
    assert not result.passed
    assert result.score == 2.5
    assert result.reasons == ["score 2.50 below pass mark 3.00"]


def test_score_equal_to_pass_mark_passes() -> None:
    even = Evaluation(cost=3, quality=3, efficiency=3, complementarity=3)
    result = screen_partner(partner_profile(evaluation=even), SCOPE, ScreeningSettings(pass_mark=3))
    assert result.passed


def test_insurance_below_minimum_fails_and_equal_passes() -> None:
    settings = ScreeningSettings(minimum_insurance=1_000_000)
    low = screen_partner(
        partner_profile(risk=Risk(insurance_coverage=Decimal("999999.99"))), SCOPE, settings
    )
    assert not low.passed
    assert len(low.reasons) == 1 and low.reasons[0].startswith("insurance coverage")
    equal = screen_partner(
        partner_profile(risk=Risk(insurance_coverage=Decimal("1000000"))), SCOPE, settings
    )
    assert equal.passed


def test_every_failing_reason_is_returned() -> None:
    bad = partner_profile(
        scope=PartnerScope(categories=["apparel"], territories=["DE"], channels=["online"]),
        evaluation=Evaluation(cost=1, quality=1, efficiency=1, complementarity=1),
        risk=Risk(insurance_coverage=Decimal("0"), flags=["sanctions", "litigation"]),
    )
    result = screen_partner(bad, SCOPE, ScreeningSettings())
    assert not result.passed
    assert result.score == 1.0
    assert result.reasons[0] == "territory FR not covered by partner scope"
    assert result.reasons[1].startswith("score 1.00 below pass mark")
    assert result.reasons[2].startswith("insurance coverage 0 below minimum")
    assert result.reasons[3:] == ["risk flag: sanctions", "risk flag: litigation"]


def test_scope_fit_compares_normalised_codes_and_expands_regions() -> None:
    """New scopes are normalised at the edge; profiles and scopes stored before that (read
    back without edge checks) compare the same way."""
    partner = partner_profile(
        scope=PartnerScope.model_validate(
            {"categories": ["Apparel"], "territories": ["dach", "fr"], "channels": ["ONLINE"]},
            context=RECORDED,
        )
    )
    deal = LicensedScope.model_validate(
        {"categories": ["APPAREL"], "territories": ["de", "FR", "at"], "channels": ["online"]},
        context=RECORDED,
    )
    assert screen_partner(partner, deal, ScreeningSettings()).reasons == []
    benelux = LicensedScope(categories=["apparel"], territories=["BENELUX"], channels=["Online"])
    assert screen_partner(partner, benelux, ScreeningSettings()).reasons == [
        "territory BE not covered by partner scope",
        "territory NL not covered by partner scope",
        "territory LU not covered by partner scope",
    ]
    twice = LicensedScope.model_validate(
        {"categories": ["Toys", "TOYS"], "territories": ["EU"], "channels": ["online"]},
        context=RECORDED,
    )
    eu_partner = partner_profile(
        scope=PartnerScope(categories=["apparel"], territories=["EU"], channels=["online"])
    )
    assert screen_partner(eu_partner, twice, ScreeningSettings()).reasons == [
        "category Toys not covered by partner scope"
    ]
