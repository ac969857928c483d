"""Sample domain objects shared by every test folder (importable as `factories`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.common import PartnerScope
from domain.partner import Evaluation, PartnerProfile, Risk
from domain.properties import PropertyIn


def partner_profile(partner_id: str = "acme", **overrides: Any) -> PartnerProfile:
    """A partner that passes screening for apparel online in DE/FR; override anything."""
    data: dict[str, Any] = {
        "partner_id": partner_id,
        "name": f"{partner_id.title()} Apparel",
        "contact_user": "erin",
        "email": f"erin@{partner_id}.example",
        "scope": PartnerScope(
            categories=["apparel", "toys"], territories=["DE", "FR"], channels=["online"]
        ),
        "evaluation": Evaluation(cost=4, quality=4, efficiency=3, complementarity=5),
        "risk": Risk(insurance_coverage=Decimal("2000000")),
    }
    data.update(overrides)
    return PartnerProfile(**data)


def licensable_property(property_id: str = "moon-bear", **overrides: Any) -> PropertyIn:
    """A property offering apparel and toys in the EU (plus CH and GB), online and retail,
    from 2020 without end; override anything (`rights` as a dict of its lists)."""
    data: dict[str, Any] = {
        "property_id": property_id,
        "name": "Moon Bear",
        "rights": {
            "categories": ["apparel", "toys"],
            "territories": ["EU", "CH", "GB"],
            "channels": ["online", "retail"],
        },
        "available_from": "2020-01-01T00:00:00Z",
    }
    data.update(overrides)
    return PropertyIn.model_validate(data)
