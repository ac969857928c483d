"""Temporal client built once per process with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from licenseflow.config import Settings, get_settings


async def connect(settings: Settings | None = None) -> Client:
    """Connect to the configured Temporal frontend and namespace."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
