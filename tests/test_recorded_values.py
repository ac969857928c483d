"""Values an earlier release accepted keep decoding from workflow history after the edge
bounds got stricter; the same values are refused as new input. The recorded history is
sealed with the test key ring: values are read after decryption and edited ones sealed again."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHistory
from workflow_helpers import opened_history_json, replayer, sealed_history

from domain.bounds import RECORDED
from domain.deal import DealRequest
from domain.deal_messages import SalesReportReceived
from domain.deal_state import DealRunInput
from licenseflow.converter import data_converter, plain_data_converter
from workflows.licensing_deal import LicensingDealWorkflow

HISTORY = "licensing_deal_year1_launch"


def _payload(attributes: dict[str, Any], key: str) -> dict[str, Any]:
    payload = attributes[key]["payloads"][0]
    data: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    return data


def _store(attributes: dict[str, Any], key: str, data: dict[str, Any]) -> None:
    attributes[key]["payloads"][0]["data"] = base64.b64encode(json.dumps(data).encode()).decode()


async def loosened_history() -> WorkflowHistory:
    """The recorded year-1 history with values accepted before today's bounds: a tab in the
    title, a report line with 3 decimals and 20,000,000,000 gross sales."""
    events = await opened_history_json(HISTORY)
    started = events["events"][0]["workflowExecutionStartedEventAttributes"]
    run_input = _payload(started, "input")
    run_input["request"]["title"] = "Moon\tBear"
    _store(started, "input", run_input)
    for event in events["events"]:
        signal = event.get("workflowExecutionSignaledEventAttributes")
        if signal and signal["signalName"] == "sales_report_received":
            received = _payload(signal, "input")
            received["report"]["lines"][0]["gross_sales"] = "20000000000.005"
            _store(signal, "input", received)
            break
    return await sealed_history("loosened", events)


async def test_recorded_values_are_not_rechecked_but_new_input_is() -> None:
    history = await opened_history_json(HISTORY)
    request = _payload(history["events"][0]["workflowExecutionStartedEventAttributes"], "input")
    request["request"]["title"] = "Moon\tBear"
    with pytest.raises(ValidationError, match="control characters"):
        DealRequest.model_validate(request["request"])
    assert DealRequest.model_validate(request["request"], context=RECORDED).title == "Moon\tBear"
    received = {"report_id": "r", "version": 1, "report": {"period": 1, "lines": [
        {"sku": "x", "category": "a", "territory": "DE", "channel": "online", "units": 1,
         "gross_sales": "20000000000.005"}]}}  # fmt: skip
    with pytest.raises(ValidationError):
        SalesReportReceived.model_validate(received)
    decoded = SalesReportReceived.model_validate(received, context=RECORDED)
    assert decoded.report is not None
    assert decoded.report.lines[0].gross_sales == Decimal("20000000000.005")


async def test_a_history_with_values_accepted_before_the_bounds_still_replays() -> None:
    history = await loosened_history()
    [sealed] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    with pytest.raises(KeyError, match="binary/encrypted"):
        plain_data_converter.payload_converter.from_payloads([sealed], [DealRunInput])
    [opened] = await data_converter.payload_codec.decode([sealed])  # type: ignore[union-attr]
    with pytest.raises(ValidationError, match="control characters"):
        DealRunInput.model_validate_json(opened.data)  # today's bounds refuse it as input
    [recorded] = await data_converter.decode([sealed], [DealRunInput])
    assert recorded.request.title == "Moon\tBear"  # the worker's converter reads it back
    result = await replayer(LicensingDealWorkflow).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None, result.replay_failure
