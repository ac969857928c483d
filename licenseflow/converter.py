"""The data converter of every Temporal client and worker here: pydantic JSON, decoding with
the `RECORDED` validation context, so values read back from a workflow's history are not
re-checked against today's edge bounds (`domain.bounds`): a deal started by an earlier
release keeps decoding after the bounds get stricter. Inputs are checked where they enter:
API bodies and update validators.

Every payload is then encrypted by `EncryptionCodec` (AES-256-GCM, `licenseflow.encryption`)
with the key ring of the settings (`LICENSEFLOW_PAYLOAD_KEYS`/`_FILE`). Failure messages and
stack traces are moved into an encoded attribute (`encode_common_attributes`), so they are
encrypted too: the history shows "Encoded failure" to anyone without the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import temporalio.api.common.v1
from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from domain.bounds import RECORDED
from licenseflow.encryption import EncryptionCodec, KeyRing


@lru_cache(maxsize=1024)
def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_hint)


class RecordedJSONConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic JSON; decodes with the `RECORDED` validation context."""

    def from_payload(
        self, payload: temporalio.api.common.v1.Payload, type_hint: type | None = None
    ) -> Any:
        hint = type_hint if type_hint is not None else Any
        try:
            adapter = _adapter(hint)
        except TypeError:  # an unhashable hint: no cache
            adapter = TypeAdapter(hint)
        return adapter.validate_json(payload.data, context=RECORDED)


class RecordedPayloadConverter(CompositePayloadConverter):
    """The default converters with JSON replaced by `RecordedJSONConverter`."""

    def __init__(self) -> None:
        json_converter = RecordedJSONConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


plain_data_converter = DataConverter(payload_converter_class=RecordedPayloadConverter)
"""Without encryption: only to read payloads known to be unencrypted."""


class EncodedFailureConverter(DefaultFailureConverter):
    """Failures with their message and stack trace in the (encrypted) encoded attributes."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


def data_converter_for(keys: KeyRing | Callable[[], KeyRing]) -> DataConverter:
    """The pydantic converter with payloads, failure messages and stack traces encrypted
    under `keys` (a ring, or a function returning one on first use)."""
    return dataclasses.replace(
        plain_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=EncodedFailureConverter,
    )


def _settings_key_ring() -> KeyRing:
    from licenseflow.config import get_settings

    return get_settings().payload_key_ring


data_converter = data_converter_for(_settings_key_ring)
"""Pass as `data_converter` to every Client, Worker, Replayer and test environment. Its key
ring comes from `get_settings()` on the first payload encoded or decoded (not on import)."""
