"""Recorded histories are sealed with the test key ring (tests/histories/encrypt_histories.py):
no plaintext payload is committed, one recorded under a rotated-out key still replays, and
a tampered or unknown-key payload fails the replay."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from histories.encrypt_histories import (
    codec_payloads,
    dump,
    is_encrypted,
    key_id,
    open_history,
    plain_failures,
    seal_history,
)
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from workflow_helpers import (
    HISTORIES,
    load_history,
    opened_history_json,
    replay_and_record,
    replayer,
    suite_key_ring,
)

from licenseflow.converter import data_converter_for
from licenseflow.encryption import ENCODING, KEY_ID_METADATA, KeyRing, PayloadKeyError
from workflows.licensing_deal import LicensingDealWorkflow

FILES = sorted(HISTORIES.glob("*.json"))
NEW, OLD = "dev-test-1", "dev-test-0"
OLD_KEY_HISTORY = "licensing_deal_year1_launch"
"""Sealed under `dev-test-0` before the rotation to `dev-test-1`; the others under `dev-test-1`."""
NEVER_ENCODED = (
    "search_attributes",
    "marker_recorded_event_attributes.details[patch-data]",
    "marker_recorded_event_attributes.details[data]",
)
"""Where Temporal writes payloads without the codec: search attributes (indexed by the
server) and sdk-core's own marker bookkeeping (a patch id; a local activity's type, seq and
attempt; its `result` is sealed). Headers too, but none is recorded."""


def every_payload(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload in a proto message with its field path (independent of the tool's walk)."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [(f"[{k}]", v) for k, v in value.items() if isinstance(v, Message)]
        else:
            items = [("", v) for v in (list(value) if field.is_repeated else [value])]
        for key, item in items:
            yield from every_payload(item, f"{path}.{field.name}{key}")


def ring(*ids: str) -> KeyRing:
    keys = suite_key_ring()
    return KeyRing(tuple(k for i in ids if (k := keys.get(i)) is not None))


def test_the_suite_ring_is_rotated() -> None:
    assert suite_key_ring().ids == (NEW, OLD), "tests/conftest.py TEST_PAYLOAD_KEYS"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_committed_history_holds_no_plaintext_payload(path: Path) -> None:
    plain, sealed = [], []
    events = load_history(path.stem).events
    markers = {e.marker_recorded_event_attributes.marker_name for e in events}
    assert markers <= {"", "core_patch", "core_local_activity"}, "markers of known details"
    for event in events:
        for where, payload in every_payload(event):
            if payload.metadata.get("encoding") == ENCODING:
                sealed.append(payload.metadata[KEY_ID_METADATA].decode())
            else:
                plain.append(where)
    expected = OLD if path.stem == OLD_KEY_HISTORY else NEW
    assert sealed and set(sealed) == {expected}
    assert [w for w in plain if not any(n in w for n in NEVER_ENCODED)] == []
    history = json.loads(path.read_text())
    assert len(list(codec_payloads(history))) == len(sealed), "the tool seals the same ones"
    assert plain_failures(history) == []
    assert dump(history) == path.read_text(), "the format WorkflowHistory.to_json() writes"


async def replay_error(
    history: WorkflowHistory, keys: KeyRing, caplog: pytest.LogCaptureFixture
) -> str | None:
    """Replay with `keys`: None, or the codec error that failed the workflow task (the
    replay failure itself only says "Encoded failure": its message is encrypted too)."""
    caplog.clear()
    replay = replayer(LicensingDealWorkflow, converter=data_converter_for(keys))
    with caplog.at_level(logging.ERROR, logger="temporalio.worker"):
        result = await replay.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is None:
        return None
    assert "PayloadKeyError" in str(result.replay_failure), result.replay_failure
    errors = [r.exc_info[1] for r in caplog.records if r.exc_info and r.exc_info[1]]
    return "; ".join(str(e) for e in errors if isinstance(e, PayloadKeyError))


async def test_a_history_sealed_with_the_old_key_replays_after_rotation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    history = load_history(OLD_KEY_HISTORY)
    assert await replay_error(history, ring(NEW, OLD), caplog) is None
    error = await replay_error(history, ring(NEW), caplog)
    assert error and f"unknown key id '{OLD}' (known: {NEW})" in error


async def test_a_tampered_payload_fails_the_replay(caplog: pytest.LogCaptureFixture) -> None:
    history = load_history("licensing_deal_year3_renewal")
    assert await replay_error(history, ring(NEW, OLD), caplog) is None
    [payload] = history.events[0].workflow_execution_started_event_attributes.input.payloads
    payload.data = payload.data[:-1] + bytes([payload.data[-1] ^ 0x01])  # the GCM tag
    error = await replay_error(history, ring(NEW, OLD), caplog)
    assert error and f"key '{NEW}' failed authentication" in error


def without_codec_payloads(history: dict[str, Any]) -> str:
    """The history JSON with every payload the codec covers emptied."""
    for payload in codec_payloads(history):
        payload.clear()
    return dump(history)


async def test_sealing_changes_payloads_only_and_is_idempotent() -> None:
    text = (HISTORIES / "partner_approval_approved.json").read_text()
    opened = await open_history(json.loads(text), ring(NEW))
    before = dump(opened)
    assert not any(is_encrypted(p) for p in codec_payloads(opened))

    sealed = json.loads(before)
    count = await seal_history(sealed, ring(NEW, OLD))
    assert count == len(list(codec_payloads(sealed))) > 0
    assert {key_id(p) for p in codec_payloads(sealed)} == {NEW}
    assert without_codec_payloads(json.loads(dump(sealed))) == without_codec_payloads(opened)
    assert await seal_history(sealed, ring(NEW, OLD)) == 0, "sealed payloads are left alone"

    assert await seal_history(sealed, ring(NEW, OLD), seal_with=OLD, rekey=True) == count
    assert {key_id(p) for p in codec_payloads(sealed)} == {OLD}
    assert dump(await open_history(sealed, ring(OLD))) == before


async def test_a_plain_failure_message_is_refused() -> None:
    history = json.loads((HISTORIES / "partner_approval_approved.json").read_text())
    event: dict[str, Any] = {"eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED"}
    event["workflowExecutionFailedEventAttributes"] = {"failure": {"message": "erin@acme"}}
    history["events"].append(event)
    assert plain_failures(history) == ["erin@acme"]
    with pytest.raises(ValueError, match="re-record instead"):
        await seal_history(history, ring(NEW))


async def test_recording_refuses_a_history_with_plain_payloads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "licensing_deal_year3_renewal"
    plain = WorkflowHistory.from_json(name, await opened_history_json(name))
    monkeypatch.setenv("LICENSEFLOW_RECORD_HISTORIES", "1")
    with pytest.raises(AssertionError, match="not encrypted, not recorded"):
        await replay_and_record(
            plain, "licensing_deal_never_written", replayer(LicensingDealWorkflow)
        )
    assert not (HISTORIES / "licensing_deal_never_written.json").exists()
