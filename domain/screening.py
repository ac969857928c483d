"""Partner screening: scope coverage, weighted evaluation score, insurance and risk flags."""

from __future__ import annotations

from decimal import Decimal

from domain.approval import ScreeningResult, ScreeningSettings
from domain.common import LicensedScope
from domain.partner import PartnerProfile

CRITERIA = ("cost", "quality", "efficiency", "complementarity")


def weighted_score(profile: PartnerProfile, settings: ScreeningSettings) -> float:
    """sum(w_i * eval_i) / sum(w_i), rounded to 2 decimals."""
    weights, evaluation = settings.weights, profile.evaluation
    total: float = sum(getattr(weights, c) for c in CRITERIA)
    value: float = sum(getattr(weights, c) * getattr(evaluation, c) for c in CRITERIA)
    return round(value / total, 2)


def scope_gaps(profile: PartnerProfile, scope: LicensedScope) -> list[str]:
    """One reason per deal category, territory or channel the partner does not cover."""
    reasons: list[str] = []
    for label, wanted, offered in (
        ("category", scope.categories, profile.scope.categories),
        ("territory", scope.territories, profile.scope.territories),
        ("channel", scope.channels, profile.scope.channels),
    ):
        for item in dict.fromkeys(wanted):
            if item not in offered:
                reasons.append(f"{label} {item} not covered by partner scope")
    return reasons


def screen_partner(
    profile: PartnerProfile, scope: LicensedScope, settings: ScreeningSettings
) -> ScreeningResult:
    """Screen a partner for a deal scope; every failing reason is returned."""
    reasons = scope_gaps(profile, scope)
    score = weighted_score(profile, settings)
    if score < settings.pass_mark:
        reasons.append(f"score {score:.2f} below pass mark {settings.pass_mark:.2f}")
    minimum = Decimal(str(settings.minimum_insurance))
    coverage = profile.risk.insurance_coverage
    if coverage < minimum:
        reasons.append(f"insurance coverage {coverage} below minimum {minimum}")
    reasons.extend(f"risk flag: {flag}" for flag in profile.risk.flags)
    return ScreeningResult(passed=not reasons, score=score, reasons=reasons)
