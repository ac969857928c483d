"""Seal the payloads of recorded histories with the payload codec, as if the workflow had run
with it: `python tests/histories/encrypt_histories.py [--keys RING] [--seal-with ID] [--rekey]
FILE...` rewrites each history JSON in place, changing payloads only.

Sealed are the payloads the Python SDK passes through its codec: inputs, results, signal and
update arguments, memo, user metadata (summaries), failure details and encoded attributes.
Left as they are, as Temporal writes them: search attributes (the server indexes them),
headers (the SDK's default `HeaderCodecBehavior.NO_CODEC`) and the details of sdk-core's own
`core_patch` markers (core writes them, never through the codec). Payloads already encrypted
are left alone (idempotent), unless `--rekey` re-seals the ones under another key than the
sealing key. A failure with its message in plain text is refused: the converter moves
messages into encoded attributes, which is more than sealing payloads (re-record instead).

The key ring defaults to the committed test ring (`TEST_PAYLOAD_KEYS` in tests/conftest.py),
never to `LICENSEFLOW_PAYLOAD_KEYS`, so a shell's real key cannot leak into a committed file.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import base64
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from temporalio.api.common.v1 import Header, Payload, SearchAttributes
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History, MarkerRecordedEventAttributes

from licenseflow.encryption import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    KeyRing,
    PayloadKeyError,
    parse_key_ring,
)

CONFTEST = Path(__file__).parent.parent / "conftest.py"
NOT_ENCODED = {SearchAttributes.DESCRIPTOR.full_name, Header.DESCRIPTOR.full_name}
CORE_MARKERS: dict[str, frozenset[str]] = {
    "core_patch": frozenset(),
    "core_local_activity": frozenset({"result"}),
}
"""Markers sdk-core writes, with the keys of their details that hold payloads the codec
seals: a local activity's `result` (its `data`, core's own bookkeeping, never is); any
other marker is refused until its details are known."""
ENCODED_FAILURE = "Encoded failure"
"""The message of a failure whose message and stack trace are in its encoded attributes."""
_ENCRYPTED = base64.b64encode(ENCODING).decode()

JSONDict = dict[str, Any]


def codec_payloads(history: JSONDict) -> Iterator[JSONDict]:
    """Every payload (as its JSON dict, in place) of a history JSON that the codec covers."""
    yield from _walk(history, History.DESCRIPTOR, Payload.DESCRIPTOR.full_name)


def plain_failures(history: JSONDict) -> list[str]:
    """Failure messages of a history left in plain text (not moved into encoded attributes)."""
    failures = _walk(history, History.DESCRIPTOR, Failure.DESCRIPTOR.full_name)
    return [m for f in failures if (m := f.get("message", ENCODED_FAILURE)) != ENCODED_FAILURE]


def _walk(node: JSONDict, descriptor: Descriptor, wanted: str) -> Iterator[JSONDict]:
    if descriptor.full_name == wanted:
        yield node
        if wanted == Payload.DESCRIPTOR.full_name:
            return
    if descriptor.full_name in NOT_ENCODED:
        return
    sealed_details: frozenset[str] | None = None
    if descriptor.full_name == MarkerRecordedEventAttributes.DESCRIPTOR.full_name:
        name = node.get("markerName", "")
        if name not in CORE_MARKERS:
            raise ValueError(f"marker {name!r}: which of its details the codec seals is unknown")
        sealed_details = CORE_MARKERS[name]
    for key, value in node.items():
        field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
        if field is None:
            raise ValueError(f"{descriptor.full_name} has no field {key!r}")
        message = field.message_type
        if message is None or message.full_name.startswith("google.protobuf."):
            continue  # scalars, enums, timestamps, durations
        if sealed_details is not None and field.name == "details":
            payloads = message.fields_by_name["value"].message_type
            assert payloads is not None
            for detail, item in value.items():
                if detail in sealed_details:
                    yield from _walk(item, payloads, wanted)
            continue
        if message.GetOptions().map_entry:
            inner = message.fields_by_name["value"].message_type
            if inner is not None:
                for item in value.values():
                    yield from _walk(item, inner, wanted)
        elif field.is_repeated:
            for item in value:
                yield from _walk(item, message, wanted)
        else:
            yield from _walk(value, message, wanted)


def is_encrypted(payload: JSONDict) -> bool:
    return bool(payload.get("metadata", {}).get("encoding") == _ENCRYPTED)


def key_id(payload: JSONDict) -> str | None:
    encoded = payload.get("metadata", {}).get(KEY_ID_METADATA)
    return base64.b64decode(encoded).decode() if encoded else None


def to_proto(payload: JSONDict) -> Payload:
    return json_format.ParseDict(payload, Payload())


def store(target: JSONDict, payload: Payload) -> None:
    """Replace a payload's JSON in place (its position in the file does not move)."""
    metadata = {k: base64.b64encode(payload.metadata[k]).decode() for k in payload.metadata}
    ordered = {k: metadata[k] for k in ("encoding", KEY_ID_METADATA) if k in metadata}
    ordered |= {k: v for k, v in sorted(metadata.items()) if k not in ordered}
    target.clear()
    target["metadata"] = ordered
    if payload.data:
        target["data"] = base64.b64encode(payload.data).decode()


async def seal_history(
    history: JSONDict, ring: KeyRing, seal_with: str | None = None, rekey: bool = False
) -> int:
    """Encrypt every codec-covered plain payload of `history` in place with `seal_with` (the
    ring's newest key by default); with `rekey` also re-seal payloads under other keys.
    Returns how many payloads changed."""
    key = ring.get(seal_with) if seal_with else ring.current
    if key is None:
        raise PayloadKeyError(f"no key {seal_with!r} in the ring ({', '.join(ring.ids)})")
    if messages := plain_failures(history):
        raise ValueError(f"failure message(s) in plain text, re-record instead: {messages}")
    sealer = EncryptionCodec(KeyRing((key,)))
    opener = EncryptionCodec(ring)
    targets = [
        p
        for p in codec_payloads(history)
        if not is_encrypted(p) or (rekey and key_id(p) != key.key_id)
    ]
    plain = await opener.decode([to_proto(p) for p in targets])
    for target, sealed in zip(targets, await sealer.encode(plain), strict=True):
        store(target, sealed)
    return len(targets)


async def open_history(history: JSONDict, ring: KeyRing) -> JSONDict:
    """Decrypt every encrypted payload of `history` in place (for tests that read values)."""
    targets = [p for p in codec_payloads(history) if is_encrypted(p)]
    for target, plain in zip(
        targets, await EncryptionCodec(ring).decode([to_proto(p) for p in targets]), strict=True
    ):
        store(target, plain)
    return history


def dump(history: JSONDict) -> str:
    """The JSON as `WorkflowHistory.to_json()` writes it (json_format: 2-space indent)."""
    return json.dumps(history, indent=2)


def committed_test_ring() -> str:
    """`TEST_PAYLOAD_KEYS` of tests/conftest.py, read without importing it."""
    for node in ast.parse(CONFTEST.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "TEST_PAYLOAD_KEYS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit(f"no TEST_PAYLOAD_KEYS string in {CONFTEST}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--keys", help="key ring (id:base64key,...); default: the test ring")
    parser.add_argument("--seal-with", help="key id of the ring to seal with; default: newest")
    parser.add_argument("--rekey", action="store_true", help="re-seal payloads under other keys")
    args = parser.parse_args(argv)
    ring = parse_key_ring(args.keys or committed_test_ring())
    for path in args.files:
        history = json.loads(path.read_text())
        changed = asyncio.run(seal_history(history, ring, args.seal_with, args.rekey))
        if changed:
            path.write_text(dump(history))
        print(f"{path}: {changed} payload(s) sealed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
