"""Payload encryption: AES-256-GCM over every payload the data converter writes.

A key ring is `id:base64key` entries, comma- (or newline-) separated, newest first: the newest
key encrypts, every key decrypts, so a new key is rotated in by prepending it and an old one
is dropped once no retained history needs it. An encrypted payload is the serialized
original payload, sealed with a random 12-byte nonce (`nonce || ciphertext || tag`), with
metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; the key id is also the
associated data, so a payload cannot be relabelled with another id. Payloads without that
encoding (histories written before encryption) are decoded unchanged.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32
DEV_KEY_PREFIX = "dev-"
"""Key ids of keys made by `licenseflow dev` (and the test key); refused in production."""
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class PayloadKeyError(ValueError):
    """A key ring that does not parse, or a payload that cannot be decrypted."""


@dataclass(frozen=True)
class PayloadKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never the key material
        return f"PayloadKey({self.key_id!r})"


@dataclass(frozen=True)
class KeyRing:
    """Keys newest first; empty means "no encryption configured"."""

    keys: tuple[PayloadKey, ...] = ()

    @property
    def current(self) -> PayloadKey:
        if not self.keys:
            raise PayloadKeyError("no payload encryption key configured")
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def get(self, key_id: str) -> PayloadKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def __bool__(self) -> bool:
        return bool(self.keys)


def parse_key_ring(text: str) -> KeyRing:
    """`id:base64key` entries separated by commas or newlines (`#` starts a comment line)."""
    keys: list[PayloadKey] = []
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for entry in (e.strip() for line in lines for e in line.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise PayloadKeyError(
                f"payload key entry must be id:base64key with an id of letters, digits, "
                f"'.', '_' or '-' (got id {key_id!r})"
            )
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PayloadKeyError(f"payload key {key_id!r} is not valid base64") from None
        if len(secret) != KEY_BYTES:
            raise PayloadKeyError(
                f"payload key {key_id!r} has {len(secret)} bytes; AES-256 needs {KEY_BYTES}"
            )
        if any(k.key_id == key_id for k in keys):
            raise PayloadKeyError(f"payload key id {key_id!r} appears twice")
        keys.append(PayloadKey(key_id, secret))
    return KeyRing(tuple(keys))


def generate_key_entry(key_id: str | None = None, prefix: str = "") -> str:
    """A new `id:base64key` entry; the default id is `k<UTC timestamp>`."""
    key_id = key_id or f"{prefix}k{datetime.now(UTC):%Y%m%dT%H%M%S}"
    if not _KEY_ID.match(key_id):
        raise PayloadKeyError(f"invalid key id {key_id!r}")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with the newest key of the ring; decodes with the key the payload names.

    `keys` is a ring or a function returning one (resolved on first use, so a module-level
    converter can be built before the settings are read). With an empty ring payloads are
    written unencrypted (dev without a key); production settings refuse an empty ring.
    """

    def __init__(self, keys: KeyRing | Callable[[], KeyRing]) -> None:
        self._ring = keys if isinstance(keys, KeyRing) else None
        self._resolve = None if isinstance(keys, KeyRing) else keys

    @property
    def key_ring(self) -> KeyRing:
        if self._ring is None:
            assert self._resolve is not None
            self._ring = self._resolve()
        return self._ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        ring = self.key_ring
        if not ring:
            return list(payloads)
        key = ring.current
        aead = AESGCM(key.secret)
        key_id = key.key_id.encode()
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = aead.encrypt(nonce, payload.SerializeToString(), key_id)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption: as it is
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        ring = self.key_ring
        key = ring.get(key_id)
        if key is None:
            known = ", ".join(ring.ids) or "none"
            raise PayloadKeyError(
                f"payload encrypted with unknown key id {key_id!r} (known: {known}); "
                "add that key to LICENSEFLOW_PAYLOAD_KEYS"
            )
        data = payload.data
        try:
            plain = AESGCM(key.secret).decrypt(
                data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode()
            )
        except (InvalidTag, ValueError):
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r} failed authentication: "
                "tampered with, or a different key under that id"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded
