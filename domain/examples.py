"""Example bodies shown in the OpenAPI document (and used by the fuzzer as seeds): a partner,
a property, a deal request and a sales report, as in the README walkthrough."""

from __future__ import annotations

from typing import Any

PARTNER: dict[str, Any] = {
    "partner_id": "acme",
    "name": "Acme Apparel GmbH",
    "contact_user": "acme-ops",
    "email": "ops@acme.example",
    "scope": {"categories": ["apparel"], "territories": ["DE", "FR"], "channels": ["online"]},
    "evaluation": {"cost": 4, "quality": 5, "efficiency": 3, "complementarity": 4},
    "risk": {"insurance_coverage": 2000000, "flags": []},
}

PROPERTY: dict[str, Any] = {
    "property_id": "moon-bear",
    "name": "Moon Bear",
    "owner": "olivia",
    "rights": {
        "categories": ["apparel", "toys"],
        "territories": ["EU", "GB"],
        "channels": ["online", "retail"],
    },
    "available_from": "2026-01-01T00:00:00Z",
    "available_to": "2046-01-01T00:00:00Z",
}

DEAL: dict[str, Any] = {
    "deal_id": "moonbear-eu",
    "title": "Moon Bear apparel EU",
    "property": {"name": "Moon Bear", "rights": ["brand", "product"]},
    "property_id": "moon-bear",
    "needs": {
        "objectives": [{"kind": "revenue", "target": 600000, "unit": "EUR"}],
        "audience": {"segments": ["18-34"], "regions": ["DE", "FR"]},
    },
    "plan": {
        "scope": {
            "categories": ["apparel"],
            "territories": ["DE", "FR"],
            "channels": ["online"],
            "exclusive": False,
        },
        "promotion": [{"channel": "social", "budget": 20000}],
        "kpis": [{"metric": "net_sales", "target_per_period": 50000, "at_risk_below": 0.75}],
    },
    "terms": {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": 500000, "rate": 0.08}, {"up_to": None, "rate": 0.10}],
        "advance": 20000,
        "minimum_guarantee_per_year": 60000,
    },
    "schedule": {
        "period": "P1M",
        "periods_per_review": 3,
        "periods_per_year": 12,
        "term_periods": 36,
        "report_grace": "P15D",
        "decision_sla": "P5D",
    },
    "partners": ["acme"],
    "plan_approvers": ["bob"],
    "partner_approval_chain": [
        {"step": "commercial", "approvers": ["carol"]},
        {"step": "legal", "approvers": ["dave"]},
    ],
    "licensor_signatory": "alice",
}

SALES_REPORT: dict[str, Any] = {
    "period": 1,
    "lines": [
        {
            "sku": "MB-TEE-01",
            "category": "apparel",
            "territory": "DE",
            "channel": "online",
            "units": 1000,
            "gross_sales": 105000,
            "deductions": 5000,
        }
    ],
}

DEAL_WITH_RATE_CARD: dict[str, Any] = {
    **DEAL,
    "deal_id": "moonbear-toys",
    "title": "Moon Bear apparel and toys EU",
    "plan": {
        **DEAL["plan"],
        "scope": {
            "categories": ["apparel", "toys"],
            "territories": ["DE", "FR"],
            "channels": ["online"],
            "exclusive": False,
        },
    },
    "terms": {
        "currency": "EUR",
        "royalty_tiers": [{"up_to": None, "rate": 0.07}],
        "rate_card": [
            {
                "category": "apparel",
                "territory": "DE",
                "channel": "online",
                "royalty_tiers": [{"up_to": 100000, "rate": 0.08}, {"up_to": None, "rate": 0.10}],
            },
            {"label": "toys", "category": "toys", "per_unit": 0.50},
        ],
        "advance": 50000,
        "advance_recoupable_across_term": True,
        "minimum_guarantee_schedule": [20000, 30000, 40000],
        "payment_terms": "P30D",
    },
}
"""A deal with a rate card (apparel in DE online on its own tiers, toys per unit, the rest
at 7%), an MG schedule and an advance recoupable across the term."""
