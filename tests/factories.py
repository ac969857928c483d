"""Sample domain objects shared by every test folder (importable as `factories`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.common import PartnerScope
from domain.partner import Evaluation, PartnerProfile, Risk


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
