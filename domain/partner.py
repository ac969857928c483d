"""Partner (licensee) profile as registered by the licensor."""

from __future__ import annotations

from decimal import Decimal

from pydantic import EmailStr, Field

from domain.common import Identifier, Model, PartnerScope, UserName


class Evaluation(Model):
    """Licensor's 1-5 assessment of the partner on the four screening criteria."""

    cost: float = Field(ge=1, le=5)
    quality: float = Field(ge=1, le=5)
    efficiency: float = Field(ge=1, le=5)
    complementarity: float = Field(ge=1, le=5)


class Risk(Model):
    """Risk facts: insurance coverage (in deal currency) and open risk flags."""

    insurance_coverage: Decimal = Field(ge=0)
    flags: list[str] = Field(default_factory=list)


class PartnerProfile(Model):
    """A partner as stored in Postgres and screened by PartnerApproval."""

    partner_id: Identifier
    name: str = Field(min_length=1, max_length=200)
    contact_user: UserName
    email: EmailStr
    scope: PartnerScope
    evaluation: Evaluation
    risk: Risk
    version: int = 1
