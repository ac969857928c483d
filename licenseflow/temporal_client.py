"""Temporal client built once per process with the pydantic data converter, payloads
encrypted with the key ring of the settings."""

from __future__ import annotations

from temporalio.client import Client

from licenseflow.config import Settings, get_settings
from licenseflow.converter import data_converter_for


async def connect(settings: Settings | None = None) -> Client:
    """Connect to the configured Temporal frontend and namespace."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter_for(settings.payload_key_ring),
    )
