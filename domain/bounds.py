"""Edge bounds: limits checked on input (API bodies, update validators, messages from people
and systems) but not on values read back from workflow history.

A running deal's history holds inputs accepted by earlier releases; re-checking them against
today's stricter bounds would make the deal fail to decode and freeze. The worker and every
client decode with the `RECORDED` validation context (`licenseflow/converter.py`), which
skips these checks; each bound still shows in the JSON schema (OpenAPI) through a hint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import AfterValidator, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

RECORDED = {"recorded": True}
"""Validation context for values read back from workflow history."""

T = TypeVar("T")


def at_edge(info: ValidationInfo) -> bool:
    """True when validating input, False for values read back from history."""
    return not (isinstance(info.context, dict) and info.context.get("recorded"))


@dataclass(frozen=True)
class SchemaHint:
    """Adds keys to a type's JSON schema (the bound an edge check enforces)."""

    items: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, extra: dict[str, Any]) -> SchemaHint:
        return cls(tuple(sorted(extra.items())))

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(dict(self.items))
        return schema


def edge(check: Callable[[T], None]) -> AfterValidator:
    """An AfterValidator running `check` (raising ValueError) at the edge only."""

    def validate(value: T, info: ValidationInfo) -> T:
        if at_edge(info):
            check(value)
        return value

    return AfterValidator(validate)


def text(pattern: str, max_length: int | None = None) -> AfterValidator:
    """No character outside `pattern` (control characters), and at most `max_length`."""
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.match(value):
            raise ValueError("control characters are not allowed")
        if max_length is not None and len(value) > max_length:
            raise ValueError(f"at most {max_length} characters")

    return edge(check)


def max_items(limit: int) -> tuple[AfterValidator, SchemaHint]:
    """At most `limit` items."""

    def check(value: Sized) -> None:
        if len(value) > limit:
            raise ValueError(f"at most {limit} items")

    return edge(check), SchemaHint.of({"maxItems": limit})


def number(
    *, maximum: int | Decimal | None = None, decimals: int | None = None
) -> tuple[AfterValidator, SchemaHint]:
    """At most `maximum`, with at most `decimals` decimal places."""

    def check(value: int | Decimal) -> None:
        if maximum is not None and value > maximum:
            raise ValueError(f"must be at most {maximum}")
        if decimals is not None and isinstance(value, Decimal):
            exponent = value.normalize().as_tuple().exponent
            if isinstance(exponent, int) and exponent < -decimals:
                raise ValueError(f"at most {decimals} decimal places")

    hint: dict[str, Any] = {}
    if maximum is not None:
        hint["maximum"] = float(maximum) if isinstance(maximum, Decimal) else maximum
    return edge(check), SchemaHint.of(hint)
