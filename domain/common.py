"""Shared building blocks: base model config, identifiers, money and licensed scope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)

from domain import bounds, limits
from domain.ids import ID_PATTERN
from domain.territories import REGIONS, country, covered, scope_territory, wanted

T = TypeVar("T")

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


def _normalise_at_edge(normalise: Callable[[T], T]) -> AfterValidator:
    """An AfterValidator applying `normalise` to input only: a value read back from history
    (`bounds.RECORDED`) stays as recorded, so replays never change."""

    def validate(value: T, info: ValidationInfo) -> T:
        return normalise(value) if bounds.at_edge(info) else value

    return AfterValidator(validate)


def fold_code(code: str) -> str:
    """A category or channel as compared: case-insensitive (casefolded), trimmed."""
    return code.strip().casefold()


def _distinct(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


LowerCode = Annotated[Code, _normalise_at_edge(str.lower)]
"""A product category or sales channel: case-insensitive, lower-cased at the edge."""
ScopeCodes = Annotated[
    list[LowerCode],
    Field(min_length=1),
    *bounds.max_items(limits.MAX_ITEMS),
    _normalise_at_edge(_distinct),
]
"""A scope's categories or channels: lower case, de-duplicated at the edge."""
Country = Annotated[
    Code,
    _normalise_at_edge(country),
    bounds.SchemaHint.of(
        {"pattern": "^[A-Za-z]{2}$", "description": "ISO 3166-1 alpha-2 country code"}
    ),
]
"""One country: an ISO 3166-1 alpha-2 code, upper-cased at the edge (a region is refused)."""
ScopeTerritory = Annotated[
    Code,
    _normalise_at_edge(scope_territory),
    bounds.SchemaHint.of(
        {
            "pattern": "^[A-Za-z]{2,7}$",
            "description": "ISO 3166-1 alpha-2 country code, or a region expanded to its "
            "members: " + ", ".join(REGIONS),
        }
    ),
]
Territories = Annotated[
    list[ScopeTerritory],
    Field(min_length=1),
    *bounds.max_items(limits.MAX_ITEMS),
    _normalise_at_edge(wanted),
    bounds.max_items(limits.MAX_ITEMS)[0],
]
"""A scope's territories: countries and regions, upper case; at the edge regions are expanded
and the list de-duplicated in order. The item bound holds for the list as sent and again
after expansion."""


@dataclass(frozen=True)
class ScopeCover:
    """What a scope covers, normalised for comparison (both sides of every comparison go
    through the same normalisation, so values stored before the edge normalised them match)."""

    categories: frozenset[str]
    territories: frozenset[str]
    channels: frozenset[str]

    def has_category(self, category: str) -> bool:
        return fold_code(category) in self.categories

    def has_territory(self, territory: str) -> bool:
        return territory.strip().upper() in self.territories

    def has_channel(self, channel: str) -> bool:
        return fold_code(channel) in self.channels


class PartnerScope(Model):
    """What a partner is able to license: product categories, territories, channels.

    Categories and channels are case-insensitive; territories are ISO 3166-1 alpha-2 codes or
    regions (`domain.territories.REGIONS`), expanded at the edge."""

    categories: ScopeCodes
    territories: Territories
    channels: ScopeCodes

    def cover(self) -> ScopeCover:
        """The normalised sets to compare against (regions expanded, codes casefolded)."""
        return ScopeCover(
            categories=frozenset(map(fold_code, self.categories)),
            territories=covered(self.territories),
            channels=frozenset(map(fold_code, self.channels)),
        )


class LicensedScope(PartnerScope):
    """The scope a deal licenses; exclusive means no other licensee in the same scope."""

    exclusive: bool = False
