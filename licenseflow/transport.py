"""Checks on the transport settings, run when the settings load (licenseflow/config.py): the
Temporal TLS files (readable PEM, a client certificate that matches its key) and whether a
Temporal address is loopback."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

TLS_CA = "TEMPORAL_TLS_SERVER_CA_CERT_PATH"
TLS_CERT = "TEMPORAL_TLS_CLIENT_CERT_PATH"
TLS_KEY = "TEMPORAL_TLS_CLIENT_KEY_PATH"
"""The `temporal` CLI's names (1.x); the short TEMPORAL_TLS_CA/_CERT/_KEY are accepted too."""
SHORT_NAMES = {
    TLS_CA: "TEMPORAL_TLS_CA",
    TLS_CERT: "TEMPORAL_TLS_CERT",
    TLS_KEY: "TEMPORAL_TLS_KEY",
}


def setting_name(name: str) -> str:
    """`TEMPORAL_TLS_CLIENT_CERT_PATH (TEMPORAL_TLS_CERT)`: both names, for messages."""
    short = SHORT_NAMES.get(name)
    return f"{name} ({short})" if short else name


def address_host(address: str) -> str:
    """The host of `host:port` or `[v6]:port` (the whole value when it has no port)."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    host, sep, _port = address.rpartition(":")
    return host if sep else address


def is_loopback(address: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (a name that is not localhost is not)."""
    host = address_host(address).strip().lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: Path, name: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{setting_name(name)}: cannot read {path}: {exc.strerror}") from None


def check_certificates(path: Path, name: str) -> list[x509.Certificate]:
    """The PEM certificates in `path`; a clear error when it is unreadable or holds none."""
    data = _read(path, name)
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{setting_name(name)}: {path} holds no PEM certificate") from None


def check_key_pair(cert_path: Path, key_path: Path) -> None:
    """The client certificate (the first in its file) and the unencrypted PEM key match."""
    cert = check_certificates(cert_path, TLS_CERT)[0]
    data = _read(key_path, TLS_KEY)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(
            f"{setting_name(TLS_KEY)}: {key_path} is encrypted; give an unencrypted PEM key"
        ) from None
    except ValueError:
        raise ValueError(f"{setting_name(TLS_KEY)}: {key_path} holds no PEM private key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if cert.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise ValueError(
            f"{setting_name(TLS_KEY)}: {key_path} is not the key of the certificate "
            f"{cert_path} ({setting_name(TLS_CERT)})"
        )
