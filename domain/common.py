"""Shared building blocks: base model config, identifiers, money and licensed scope."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.ids import ID_PATTERN

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, strip_whitespace=True)]
"""Stable, URL- and workflow-id-safe identifier (deal ids, partner ids, user names)."""

UserName = Identifier
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class Model(BaseModel):
    """Base for every domain model: unknown fields are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HistoryEntry(Model):
    """Something that happened to a deal or a task: when, what, by whom, and a detail."""

    at: datetime
    event: str
    by: str | None = None
    detail: str | None = None


class PartnerScope(Model):
    """What a partner is able to license: product categories, territories, channels."""

    categories: list[Code] = Field(min_length=1)
    territories: list[Code] = Field(min_length=1)
    channels: list[Code] = Field(min_length=1)


class LicensedScope(PartnerScope):
    """The scope a deal licenses; exclusive means no other licensee in the same scope."""

    exclusive: bool = False
