"""Partner screening: scope coverage, weighted evaluation score, insurance and risk flags."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from domain.approval import ScreeningResult, ScreeningSettings
from domain.common import LicensedScope, fold_code
from domain.partner import PartnerProfile
from domain.territories import wanted

CRITERIA = ("cost", "quality", "efficiency", "complementarity")


def weighted_score(profile: PartnerProfile, settings: ScreeningSettings) -> float:
    """sum(w_i * eval_i) / sum(w_i), rounded to 2 decimals."""
    weights, evaluation = settings.weights, profile.evaluation
    total: float = sum(getattr(weights, c) for c in CRITERIA)
    value: float = sum(getattr(weights, c) * getattr(evaluation, c) for c in CRITERIA)
    return round(value / total, 2)


def scope_gaps(profile: PartnerProfile, scope: LicensedScope) -> list[str]:
    """One reason per deal category, territory or channel the partner does not cover.

    Compared normalised on both sides (casefolded categories and channels, upper-case
    territories with regions expanded to their countries), so profiles and scopes stored
    before the API normalised codes compare like new ones."""
    offered = profile.scope.cover()
    checks: list[tuple[str, list[str], Callable[[str], bool]]] = [
        ("category", _distinct_folded(scope.categories), offered.has_category),
        ("territory", wanted(scope.territories), offered.has_territory),
        ("channel", _distinct_folded(scope.channels), offered.has_channel),
    ]
    reasons: list[str] = []
    for label, items, covers in checks:
        reasons.extend(
            f"{label} {item} not covered by partner scope" for item in items if not covers(item)
        )
    return reasons


def _distinct_folded(codes: list[str]) -> list[str]:
    """`codes` without repeats that differ only in case (the first spelling kept)."""
    first: dict[str, str] = {}
    for code in codes:
        first.setdefault(fold_code(code), code)
    return list(first.values())


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
