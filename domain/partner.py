"""Partner (licensee) profile as registered by the licensor."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, EmailStr, Field

from domain import bounds, examples, limits
from domain.common import Code, Identifier, Model, Money, Name, PartnerScope, UserName


class Evaluation(Model):
    """Licensor's 1-5 assessment of the partner on the four screening criteria."""

    cost: float = Field(ge=1, le=5)
    quality: float = Field(ge=1, le=5)
    efficiency: float = Field(ge=1, le=5)
    complementarity: float = Field(ge=1, le=5)


class Risk(Model):
    """Risk facts: insurance coverage (in deal currency) and open risk flags."""

    insurance_coverage: Money
    flags: Annotated[list[Code], *bounds.max_items(limits.MAX_ITEMS)] = Field(default_factory=list)


class PartnerProfile(Model):
    """A partner as stored in Postgres and screened by PartnerApproval."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.PARTNER]})

    partner_id: Identifier
    name: Name
    contact_user: UserName
    email: EmailStr
    scope: PartnerScope
    evaluation: Evaluation
    risk: Risk
    version: int = 1
