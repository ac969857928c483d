"""Example bodies shown in the OpenAPI document (and used by the fuzzer as seeds): a partner,
a deal request and a sales report, as in the README walkthrough."""

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

DEAL: dict[str, Any] = {
    "deal_id": "moonbear-eu",
    "title": "Moon Bear apparel EU",
    "property": {"name": "Moon Bear", "rights": ["brand", "product"]},
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
