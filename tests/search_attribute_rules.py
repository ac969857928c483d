"""What search attributes may hold (README "Search attributes"): ids and status codes only.

Search attributes are never encrypted, so every value a workflow ever set (its start and each
upsert in its history) is checked against the README table: a pattern or a closed set of
codes per attribute, and an unknown attribute fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from temporalio.api.history.v1 import History

from domain.deal_state import KpiStatus, Stage
from domain.ids import ID_PATTERN

_ID = re.compile(ID_PATTERN)
_PATCH_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _one_of(values: set[str]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and v in values


def _id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value)) and "@" not in value


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(_id(v) for v in value)


def _patch_ids(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and bool(_PATCH_ID.fullmatch(v)) for v in value
    )


RULES: dict[str, Callable[[Any], bool]] = {
    "DealStage": _one_of({s.value for s in Stage}),
    "DealOwner": _id,
    "LicensingPartner": _id,
    "KpiStatus": _one_of({k.value for k in KpiStatus}),
    "PendingApprovers": _ids,
    "DealHealth": _one_of({"ok", "blocked"}),
    "TemporalChangeVersion": _patch_ids,
}


def search_attribute_values(history: History) -> Iterator[tuple[str, Any]]:
    """Every (attribute, value) a history sets: at start and in each upsert."""
    for event in history.events:
        fields = None
        if event.HasField("workflow_execution_started_event_attributes"):
            started = event.workflow_execution_started_event_attributes
            fields = started.search_attributes.indexed_fields
        elif event.HasField("upsert_workflow_search_attributes_event_attributes"):
            upsert = event.upsert_workflow_search_attributes_event_attributes
            fields = upsert.search_attributes.indexed_fields
        for name, payload in (fields or {}).items():
            encoding = payload.metadata.get("encoding")
            if encoding == b"binary/null":
                yield name, None  # an unset
                continue
            assert encoding == b"json/plain", (name, payload.metadata)
            yield name, json.loads(payload.data) if payload.data else None


def violations(history: History) -> list[tuple[str, Any]]:
    """Values outside the README table (an unknown attribute is one too); unsets are fine."""
    return [
        (name, value)
        for name, value in search_attribute_values(history)
        if value is not None and not RULES.get(name, lambda _v: False)(value)
    ]
