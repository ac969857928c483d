"""Search attributes hold only ids and status codes (README "Search attributes").

They are the one part of a workflow the payload codec cannot encrypt. Every value set in
every recorded history (deals through launch, renewal, amendments, incidents, sell-off,
terminations; partner approvals with escalation and revision) is checked against the
README table; the live full-deal API test checks a deal and its partner approval the same
way (`tests/api/test_api_full_deal.py`).
"""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from search_attribute_rules import search_attribute_values, violations
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from workflow_helpers import HISTORIES


def _history(path: str) -> History:
    history = History()
    json_format.Parse((HISTORIES / path).read_text(), history, ignore_unknown_fields=True)
    return history


@pytest.mark.parametrize("path", sorted(p.name for p in HISTORIES.glob("*.json")))
def test_recorded_histories_set_only_ids_and_codes(path: str) -> None:
    history = _history(path)
    assert list(search_attribute_values(history)), "each history sets some attributes"
    assert violations(history) == []


def _upsert(name: str, value: object) -> History:
    event = HistoryEvent(event_type=EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    fields.indexed_fields[name].CopyFrom(
        Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
    )
    return History(events=[event])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DealOwner", "olivia@example.com"),
        ("LicensingPartner", "Acme Corp."),
        ("PendingApprovers", ["carol", "Bob Smith"]),
        ("KpiStatus", "40000.00"),
        ("DealStage", "signed by Sam"),
        ("DealHealth", "blocked: smtp password wrong"),
        ("DealTitle", "Moonbear apparel"),  # an attribute the table does not list
    ],
)
def test_the_checker_flags_personal_data_and_figures(name: str, value: object) -> None:
    assert violations(_upsert(name, value)) == [(name, value)]


def test_unsets_and_codes_pass() -> None:
    assert violations(_upsert("KpiStatus", "at_risk")) == []
    assert violations(_upsert("PendingApprovers", ["carol", "larry.k"])) == []
