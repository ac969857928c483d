"""Payload encryption (licenseflow/encryption.py): AES-256-GCM codec, key ring, settings,
`licenseflow key generate`, `licenseflow dev`'s key, and no plaintext in a real history."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import asyncpg
import pytest
from deal_helpers import deal_request, deal_worker, seed_partner, start_deal, wait_state
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.deal_state import DealRunInput
from licenseflow import cli, devstack
from licenseflow.config import Settings
from licenseflow.converter import data_converter, data_converter_for, plain_data_converter
from licenseflow.encryption import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    generate_key_entry,
    parse_key_ring,
)

TEST_PAYLOAD_KEYS = os.environ["LICENSEFLOW_PAYLOAD_KEYS"]  # tests/conftest.py
OLD = generate_key_entry("old")
NEW = generate_key_entry("new")


def codec(*entries: str) -> EncryptionCodec:
    return EncryptionCodec(parse_key_ring(",".join(entries)))


def payload(text: str = "Moonbear apparel") -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_with_random_nonce_and_key_id() -> None:
    enc = codec(NEW)
    first, second = await enc.encode([payload(), payload()])
    for sealed in (first, second):
        assert sealed.metadata["encoding"] == ENCODING == b"binary/encrypted"
        assert sealed.metadata[KEY_ID_METADATA] == b"new"
        assert b"Moonbear" not in sealed.SerializeToString()
    assert first.data[:12] != second.data[:12], "a fresh nonce per payload"
    assert await enc.decode([first, second]) == [payload(), payload()]


async def test_the_data_converter_round_trips_typed_values() -> None:
    converter = data_converter_for(parse_key_ring(NEW))
    request = deal_request()
    [sealed] = await converter.encode([DealRunInput(request=request)])
    assert sealed.metadata[KEY_ID_METADATA] == b"new"
    assert request.title.encode() not in sealed.data
    [back] = await converter.decode([sealed], [DealRunInput])
    assert back.request == request


async def test_tampering_is_detected() -> None:
    enc = codec(NEW)
    [sealed] = await enc.encode([payload()])
    for position in (0, 12, len(sealed.data) - 1):  # nonce, ciphertext, tag
        data = bytearray(sealed.data)
        data[position] ^= 0x01
        tampered = Payload(metadata=dict(sealed.metadata), data=bytes(data))
        with pytest.raises(PayloadKeyError, match="failed authentication"):
            await enc.decode([tampered])
    relabelled = generate_key_entry("other")
    other_ring = codec(relabelled, NEW)
    moved = Payload(
        metadata={**sealed.metadata, KEY_ID_METADATA: b"other"}, data=sealed.data
    )  # same bytes under another key id: the id is authenticated too
    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await other_ring.decode([moved])
    with pytest.raises(PayloadKeyError, match="failed authentication"):
        await enc.decode([Payload(metadata=dict(sealed.metadata), data=b"short")])


async def test_rotation_old_payloads_decrypt_new_ones_use_the_new_key() -> None:
    [old_sealed] = await codec(OLD).encode([payload("old")])
    rotated = codec(NEW, OLD)  # new key prepended
    assert await rotated.decode([old_sealed]) == [payload("old")]
    [new_sealed] = await rotated.encode([payload("new")])
    assert new_sealed.metadata[KEY_ID_METADATA] == b"new"
    assert await codec(NEW).decode([new_sealed]) == [payload("new")]


async def test_plaintext_payloads_pass_through() -> None:
    plain = [payload(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec(NEW).decode(plain) == plain
    assert await EncryptionCodec(KeyRing()).decode(plain) == plain
    assert await EncryptionCodec(KeyRing()).encode(plain) == plain, "no ring: unencrypted"


async def test_unknown_key_id_names_the_key() -> None:
    [sealed] = await codec(OLD).encode([payload()])
    with pytest.raises(PayloadKeyError, match=r"unknown key id 'old' \(known: new\)"):
        await codec(NEW).decode([sealed])


def test_key_ring_parsing() -> None:
    ring = parse_key_ring(f"# comment\n{NEW}\n{OLD} , ")
    assert ring.ids == ("new", "old") and ring.current.key_id == "new"
    assert "new" in repr(ring) and NEW.split(":")[1] not in repr(ring), "no key material"
    for bad, match in (
        ("nocolon", "id:base64key"),
        ("k1:not-base64!", "not valid base64"),
        ("k1:c2hvcnQ=", "needs 32"),
        (f"{NEW},{NEW}", "twice"),
    ):
        with pytest.raises(PayloadKeyError, match=match):
            parse_key_ring(bad)


def test_settings_key_ring_and_production_refusals(tmp_path: Path) -> None:
    assert Settings().payload_key_ring.current.key_id == "dev-test-1", "tests run encrypted"
    assert data_converter.payload_codec is not None
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"{NEW}\n{OLD}\n")
    from_file = Settings(  # type: ignore[call-arg]
        LICENSEFLOW_PAYLOAD_KEYS="", LICENSEFLOW_PAYLOAD_KEYS_FILE=keys_file
    )
    assert from_file.payload_key_ring.ids == ("new", "old")
    assert "LICENSEFLOW_PAYLOAD_KEYS" not in repr(from_file) and NEW not in repr(Settings())
    with pytest.raises(ValidationError, match="not both"):
        Settings(LICENSEFLOW_PAYLOAD_KEYS_FILE=keys_file)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="needs 32"):
        Settings(LICENSEFLOW_PAYLOAD_KEYS="k:c2hvcnQ=")  # type: ignore[call-arg]
    production = {"LICENSEFLOW_ENV": "production", "LICENSEFLOW_ESIGN_SECRETS": "s3cret"}
    with pytest.raises(ValidationError, match="must be set in production"):
        Settings(**production, LICENSEFLOW_PAYLOAD_KEYS="")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"dev-test-1.* are dev/test keys"):
        Settings(**production, LICENSEFLOW_PAYLOAD_KEYS=TEST_PAYLOAD_KEYS)  # type: ignore[arg-type]
    prod = Settings(**production, LICENSEFLOW_PAYLOAD_KEYS=f"{NEW},{OLD}")  # type: ignore[arg-type]
    assert prod.payload_key_ring.ids == ("new", "old")
    assert Settings(LICENSEFLOW_PAYLOAD_KEYS="").payload_key_ring.ids == ()  # type: ignore[call-arg]


def test_key_generate_prints_a_usable_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["key", "generate", "--id", "k2026"]) == 0
    entry = capsys.readouterr().out.strip()
    assert entry.startswith("k2026:") and parse_key_ring(entry).ids == ("k2026",)
    assert cli.main(["key", "generate"]) == 0
    assert parse_key_ring(capsys.readouterr().out.strip()).current.key_id.startswith("k")
    with pytest.raises(SystemExit):
        cli.main(["key", "generate", "--id", "dev-mine"])
    assert "refused in production" in capsys.readouterr().err


def test_dev_creates_and_keeps_a_dev_key(tmp_path: Path) -> None:
    settings = Settings(LICENSEFLOW_PAYLOAD_KEYS="", LICENSEFLOW_DATA_DIR=tmp_path)  # type: ignore[call-arg]
    env = devstack.ensure_dev_payload_keys(settings, tmp_path)
    path = tmp_path / "payload-keys"
    assert env == {"LICENSEFLOW_PAYLOAD_KEYS_FILE": str(path)}
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    [key_id] = parse_key_ring(first).ids
    assert key_id.startswith("dev-")
    assert devstack.ensure_dev_payload_keys(settings, tmp_path) == env
    assert path.read_text() == first, "a second run keeps the key"
    # the worker/API in dev read it (and so would a separate `licenseflow worker`)
    again = Settings(LICENSEFLOW_PAYLOAD_KEYS="", LICENSEFLOW_DATA_DIR=tmp_path)  # type: ignore[call-arg]
    assert again.payload_key_ring.ids == (key_id,)
    assert devstack.ensure_dev_payload_keys(Settings(), tmp_path) == {}, "configured keys win"


async def test_a_started_deal_leaves_no_plaintext_in_history(
    dev_env: WorkflowEnvironment, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> None:
    await seed_partner(pool, "acme")
    title = f"Secret Moonbear {uuid.uuid4().hex[:8]}"
    request = deal_request(title=title)
    async with deal_worker(dev_env.client, pool, settings, task_queue):
        handle = await start_deal(dev_env.client, request, task_queue)
        state = await wait_state(dev_env.client, request.deal_id, lambda s: bool(s.stage))
        assert state.stage, "the worker decrypted the input and ran"
        history = await handle.fetch_history()
        await handle.terminate("test finished")
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert len(history.events) > 3
    assert title.encode() not in raw and request.deal_id.encode() in raw  # ids stay visible
    [started] = history.events[:1]
    [sealed] = started.workflow_execution_started_event_attributes.input.payloads
    assert sealed.metadata[KEY_ID_METADATA] == b"dev-test-1"
    [run_input] = await data_converter.decode([sealed], [DealRunInput])
    assert run_input.request.title == title
    with pytest.raises(KeyError, match="binary/encrypted"):  # not readable without it
        await plain_data_converter.decode([sealed], [DealRunInput])


async def test_failure_messages_and_stack_traces_are_encrypted() -> None:
    converter = data_converter_for(parse_key_ring("dev-a:" + base64.b64encode(b"k" * 32).decode()))
    try:
        raise ApplicationError("olivia cannot approve her own deal", type="SelfApproval")
    except ApplicationError as exc:
        failure = Failure()
        await converter.encode_failure(exc, failure)
    assert failure.message == "Encoded failure" and failure.stack_trace == ""
    sealed = failure.encoded_attributes
    assert sealed.metadata["encoding"] == b"binary/encrypted"
    assert b"olivia" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert (decoded.message, decoded.type) == ("olivia cannot approve her own deal", "SelfApproval")
