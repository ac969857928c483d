"""Settings read from the environment (and `.env`), one object for every entry point."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from licenseflow import TASK_QUEUE
from licenseflow.encryption import DEV_KEY_PREFIX, KeyRing, PayloadKeyError, parse_key_ring

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEV_ESIGN_SECRET = "dev-esign-secret"
PLACEHOLDER_SECRETS = frozenset({DEV_ESIGN_SECRET, "change-me"})
DEV_PAYLOAD_KEYS_FILE = "payload-keys"
"""The dev key ring `licenseflow dev` keeps in the data dir (read in dev when none is set)."""


class Settings(BaseSettings):
    """Where Temporal, PostgreSQL and the API live; unset URLs mean "embedded, under data_dir"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["dev", "production"] = Field(default="dev", alias="LICENSEFLOW_ENV")
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default=TASK_QUEUE, alias="LICENSEFLOW_TASK_QUEUE")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=Path(".data"), alias="LICENSEFLOW_DATA_DIR")
    api_host: str = Field(default="127.0.0.1", alias="LICENSEFLOW_API_HOST")
    api_port: int = Field(default=8000, alias="LICENSEFLOW_API_PORT")
    ui_port: int = Field(default=8233, alias="LICENSEFLOW_UI_PORT")
    log_format: str = Field(default="console", alias="LICENSEFLOW_LOG_FORMAT")  # console | json
    log_level: str = Field(default="INFO", alias="LICENSEFLOW_LOG_LEVEL")
    esign_webhook_secrets: str = Field(
        default=DEV_ESIGN_SECRET, alias="LICENSEFLOW_ESIGN_SECRETS"
    )  # comma-separated, newest first; several allow rotation
    signing_provider: str = Field(default="local", alias="LICENSEFLOW_SIGNING_PROVIDER")
    temporal_call_timeout: float = Field(
        default=10.0, gt=0, le=10.0, alias="LICENSEFLOW_TEMPORAL_CALL_TIMEOUT"
    )  # seconds the API waits for Temporal (and the worker behind an update) before a 503
    # notifications: smtp://user:pass@host:587 (STARTTLS), smtps://, smtp+plain://; unset = log
    smtp_url: str | None = Field(default=None, alias="LICENSEFLOW_SMTP_URL")
    mail_from: str | None = Field(default=None, alias="LICENSEFLOW_MAIL_FROM")
    # users without a partner profile are mailed at <user>@<email_domain>
    email_domain: str | None = Field(default=None, alias="LICENSEFLOW_EMAIL_DOMAIN")
    # invoice numbers are <licensor>-000001, <licensor>-000002, ... (one sequence per value)
    licensor: str = Field(
        default="LF", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", alias="LICENSEFLOW_LICENSOR"
    )
    # payload encryption (licenseflow/encryption.py): id:base64key entries, newest first; the
    # newest encrypts, all decrypt. Or a file of such entries. Dev without either: the data
    # dir's `payload-keys` (made by `licenseflow dev`), else payloads stay unencrypted.
    payload_keys: str = Field(default="", alias="LICENSEFLOW_PAYLOAD_KEYS", repr=False)
    payload_keys_file: Path | None = Field(default=None, alias="LICENSEFLOW_PAYLOAD_KEYS_FILE")
    _key_ring: KeyRing = PrivateAttr(default_factory=KeyRing)
    # --- HTTP edge (api/middleware.py, api/ratelimit.py; README "Security") ---
    # comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For/-Proto are believed;
    # empty: never (the client address is the TCP peer)
    trusted_proxies: str = Field(default="", alias="LICENSEFLOW_TRUSTED_PROXIES")
    rate_limit: bool = Field(default=True, alias="LICENSEFLOW_RATE_LIMIT")  # off: no 429s
    token_rate: float = Field(default=20.0, gt=0, alias="LICENSEFLOW_TOKEN_RATE")  # req/s
    token_burst: int = Field(default=40, ge=1, alias="LICENSEFLOW_TOKEN_BURST")
    ip_rate: float = Field(default=50.0, gt=0, alias="LICENSEFLOW_IP_RATE")  # req/s
    ip_burst: int = Field(default=100, ge=1, alias="LICENSEFLOW_IP_BURST")
    # requests with an unknown/revoked token per client address and minute, then 429
    auth_failures_per_minute: int = Field(
        default=10, ge=1, alias="LICENSEFLOW_AUTH_FAILURES_PER_MINUTE"
    )
    rate_limit_keys: int = Field(default=10_000, ge=100, alias="LICENSEFLOW_RATE_LIMIT_KEYS")
    # `access.denied` audit rows (401 with a token, 403) per token or address and minute
    denied_audit_per_minute: int = Field(
        default=10, ge=0, alias="LICENSEFLOW_DENIED_AUDIT_PER_MINUTE"
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if not self.webhook_secrets:
                raise ValueError("LICENSEFLOW_ESIGN_SECRETS must be set in production")
            if PLACEHOLDER_SECRETS.intersection(self.webhook_secrets):
                raise ValueError(
                    "LICENSEFLOW_ESIGN_SECRETS holds a public placeholder; set real secrets"
                )
        return self

    @model_validator(mode="after")
    def _load_payload_keys(self) -> Settings:
        if self.payload_keys.strip() and self.payload_keys_file:
            raise ValueError(
                "set LICENSEFLOW_PAYLOAD_KEYS or LICENSEFLOW_PAYLOAD_KEYS_FILE, not both"
            )
        text, source = self.payload_keys, "LICENSEFLOW_PAYLOAD_KEYS"
        path = self.payload_keys_file
        if path is None and not text.strip() and self.environment == "dev":
            dev_file = self.data_dir / DEV_PAYLOAD_KEYS_FILE
            path = dev_file if dev_file.is_file() else None
        if path is not None:
            source = str(path)
            try:
                text = path.read_text()
            except OSError as exc:
                raise ValueError(f"cannot read payload keys file {path}: {exc}") from None
        try:
            self._key_ring = parse_key_ring(text)
        except PayloadKeyError as exc:
            raise ValueError(f"{source}: {exc}") from None
        if self.environment == "production":
            if not self._key_ring:
                raise ValueError(
                    "LICENSEFLOW_PAYLOAD_KEYS (or _FILE) must be set in production: "
                    "see `licenseflow key generate`"
                )
            dev_ids = [i for i in self._key_ring.ids if i.startswith(DEV_KEY_PREFIX)]
            if dev_ids:
                raise ValueError(
                    f"payload key(s) {', '.join(dev_ids)} are dev/test keys; "
                    "production needs keys from `licenseflow key generate`"
                )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # ValueError naming the bad entry
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def payload_key_ring(self) -> KeyRing:
        """The payload encryption keys, newest first (empty: payloads stay unencrypted)."""
        return self._key_ring

    @property
    def webhook_secrets(self) -> list[str]:
        return [s.strip() for s in self.esign_webhook_secrets.split(",") if s.strip()]


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.1, 10.1.0.0/16, ::1` as networks (an address is a /32 or /128)."""
    networks = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


@lru_cache
def get_settings() -> Settings:
    return Settings()
