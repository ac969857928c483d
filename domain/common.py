"""Shared building blocks: base model config, identifiers, money and licensed scope."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain import bounds, limits
from domain.ids import ID_PATTERN

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN, strip_whitespace=True)]
"""Stable, URL- and workflow-id-safe identifier (deal ids, partner ids, user names)."""

UserName = Identifier
Money = Annotated[
    Decimal,
    Field(ge=0),
    *bounds.number(maximum=limits.MAX_AMOUNT, decimals=3),
]
"""A money amount: 0 to `limits.MAX_AMOUNT`, at most 3 decimals (the finest ISO 4217 minor
unit); a deal's own currency may allow fewer (`domain.currency.check_minor_unit`)."""
Amount = Annotated[
    Decimal,
    Field(gt=0),
    *bounds.number(maximum=limits.MAX_AMOUNT, decimals=3),
]
"""A positive target or bound, in the same range as money."""
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_CODE, strip_whitespace=True),
    bounds.text(limits.SINGLE_LINE),
    bounds.SchemaHint.of({"pattern": limits.SINGLE_LINE}),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=limits.MAX_NAME, strip_whitespace=True),
    bounds.text(limits.SINGLE_LINE),
    bounds.SchemaHint.of({"pattern": limits.SINGLE_LINE}),
]
"""A title or name: one line, no control characters."""
Text = Annotated[
    str,
    bounds.text(limits.MULTI_LINE, limits.MAX_TEXT),
    bounds.SchemaHint.of({"pattern": limits.MULTI_LINE, "maxLength": limits.MAX_TEXT}),
]
"""A comment or reason: may span lines, no other control characters."""
Codes = Annotated[list[Code], Field(min_length=1), *bounds.max_items(limits.MAX_ITEMS)]


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

    categories: Codes
    territories: Codes
    channels: Codes


class LicensedScope(PartnerScope):
    """The scope a deal licenses; exclusive means no other licensee in the same scope."""

    exclusive: bool = False
