"""Temporal client built once per process with the pydantic data converter, payloads
encrypted with the key ring of the settings, over TLS/mTLS and with an API key when the
settings say so (every Temporal client of the worker, the API and the CLI comes from here)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from licenseflow.config import Settings, get_settings
from licenseflow.converter import data_converter_for


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The TLS settings for `Client.connect`: False (plaintext), or a TLSConfig with the
    server CA (else the system roots), the client certificate and key (mTLS) and the server
    name, each read now so that renewed files are used at the next start."""
    if not settings.temporal_tls_enabled:
        return False
    ca, cert, key = settings.temporal_tls_ca, settings.temporal_tls_cert, settings.temporal_tls_key
    return TLSConfig(
        server_root_ca_cert=ca.read_bytes() if ca else None,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings | None = None) -> Client:
    """Connect to the configured Temporal frontend and namespace."""
    settings = settings or get_settings()
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter_for(settings.payload_key_ring),
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
    )
