"""Sample bodies for API tests: a partner profile, a deal request, a sales report line."""

from __future__ import annotations

import copy
from typing import Any

PARTNER: dict[str, Any] = {
    "partner_id": "acme",
    "name": "Acme Apparel GmbH",
    "contact_user": "acme-ops",
    "email": "ops@acme.example",
    "scope": {
        "categories": ["apparel"],
        "territories": ["DE", "FR"],
        "channels": ["online", "retail"],
    },
    "evaluation": {"cost": 4, "quality": 5, "efficiency": 3, "complementarity": 4},
    "risk": {"insurance_coverage": 2000000, "flags": []},
}

DEAL: dict[str, Any] = {
    "deal_id": "moon-bear-eu",
    "title": "Moon Bear apparel EU",
    "property": {"name": "Moon Bear", "rights": ["brand", "product"]},
    "property_id": "moon-bear",
    "needs": {
        "objectives": [{"kind": "revenue", "target": 500000, "unit": "EUR"}],
        "audience": {"segments": ["young-adults"], "regions": ["EU"]},
    },
    "plan": {
        "scope": {
            "categories": ["apparel"],
            "territories": ["DE", "FR"],
            "channels": ["online", "retail"],
        },
        "promotion": [{"channel": "social", "budget": 20000}],
        "kpis": [{"metric": "net_sales", "target_per_period": 40000}],
    },
    "terms": {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": 100000, "rate": 0.08}, {"up_to": None, "rate": 0.1}],
        "advance": 5000,
        "minimum_guarantee_per_year": 20000,
    },
    "schedule": {"period": "P1M", "periods_per_year": 12, "term_periods": 12},
    "partners": ["acme"],
    "plan_approvers": ["carol"],
    "partner_approval_chain": [{"step": "legal", "approvers": ["larry"], "quorum": "any"}],
    "licensor_signatory": "sam",
}

REPORT_LINE: dict[str, Any] = {
    "sku": "MB-TEE-01",
    "category": "apparel",
    "territory": "DE",
    "channel": "online",
    "units": 1000,
    "gross_sales": 55000,
    "deductions": 5000,
}


def partner(partner_id: str, contact_user: str) -> dict[str, Any]:
    body = copy.deepcopy(PARTNER)
    body.update(partner_id=partner_id, contact_user=contact_user)
    return body


def deal(deal_id: str, *, partner_id: str, approver: str, signatory: str) -> dict[str, Any]:
    body = copy.deepcopy(DEAL)
    body.update(
        deal_id=deal_id,
        partners=[partner_id],
        plan_approvers=[approver],
        licensor_signatory=signatory,
    )
    body["partner_approval_chain"][0]["approvers"] = [approver]
    return body
