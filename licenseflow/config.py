"""Settings read from the environment (and `.env`), one object for every entry point."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from licenseflow import TASK_QUEUE
from licenseflow.encryption import DEV_KEY_PREFIX, KeyRing, PayloadKeyError, parse_key_ring
from licenseflow.transport import (
    TLS_CA,
    TLS_CERT,
    TLS_KEY,
    check_certificates,
    check_key_pair,
    is_loopback,
    setting_name,
)

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
    database_url: str | None = Field(default=None, alias="DATABASE_URL", repr=False)
    data_dir: Path = Field(default=Path(".data"), alias="LICENSEFLOW_DATA_DIR")
    api_host: str = Field(default="127.0.0.1", alias="LICENSEFLOW_API_HOST")
    api_port: int = Field(default=8000, alias="LICENSEFLOW_API_PORT")
    ui_port: int = Field(default=8233, alias="LICENSEFLOW_UI_PORT")
    log_format: str = Field(default="console", alias="LICENSEFLOW_LOG_FORMAT")  # console | json
    log_level: str = Field(default="INFO", alias="LICENSEFLOW_LOG_LEVEL")
    esign_webhook_secrets: str = Field(
        default=DEV_ESIGN_SECRET, alias="LICENSEFLOW_ESIGN_SECRETS", repr=False
    )  # comma-separated, newest first; several allow rotation
    signing_provider: str = Field(default="local", alias="LICENSEFLOW_SIGNING_PROVIDER")
    temporal_call_timeout: float = Field(
        default=10.0, gt=0, le=10.0, alias="LICENSEFLOW_TEMPORAL_CALL_TIMEOUT"
    )  # seconds the API waits for Temporal (and the worker behind an update) before a 503
    # notifications: smtp://user:pass@host:587 (STARTTLS), smtps://, smtp+plain://; unset = log
    smtp_url: str | None = Field(default=None, alias="LICENSEFLOW_SMTP_URL", repr=False)
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
    # --- remote codec server (api/routes/codec.py): browser origins allowed by CORS, comma-
    # separated; empty: the local Temporal UI (http://127.0.0.1:<ui_port>, localhost too) ---
    codec_cors_origins: str = Field(default="", alias="LICENSEFLOW_CODEC_CORS_ORIGINS")
    # --- Temporal transport, named as the `temporal` CLI names them (the short names
    # TEMPORAL_TLS_CA/_CERT/_KEY, as the Temporal UI server has them, work too): the server
    # CA, the client certificate and key for mTLS (PEM files), the TLS server name, an API key.
    # TLS is on with TEMPORAL_TLS=true, or when any of these is set (as the CLI does) unless
    # TEMPORAL_TLS=false. Production refuses plaintext to a non-loopback address unless
    # LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL=true (licenseflow/temporal_client.py) ---
    temporal_tls: bool | None = Field(default=None, alias="TEMPORAL_TLS")
    temporal_tls_ca: Path | None = Field(  # type: ignore[pydantic-alias]  # two names
        default=None,
        alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        validation_alias=AliasChoices("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_CA"),
    )
    temporal_tls_cert: Path | None = Field(  # type: ignore[pydantic-alias]  # two names
        default=None,
        alias="TEMPORAL_TLS_CLIENT_CERT_PATH",
        validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CERT"),
    )
    temporal_tls_key: Path | None = Field(  # type: ignore[pydantic-alias]  # two names
        default=None,
        alias="TEMPORAL_TLS_CLIENT_KEY_PATH",
        validation_alias=AliasChoices("TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_KEY"),
    )
    temporal_tls_server_name: str | None = Field(default=None, alias="TEMPORAL_TLS_SERVER_NAME")
    temporal_api_key: str | None = Field(default=None, alias="TEMPORAL_API_KEY", repr=False)
    allow_plaintext_temporal: bool = Field(
        default=False, alias="LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL"
    )
    # --- worker capacity: workflows kept in the sticky cache (more: fewer replays at a
    # month-end, about 220 KB each), activities run at once, and the worker's Postgres pool
    # (mind the server's max_connections, 100 by default, across workers and the API) ---
    max_cached_workflows: int = Field(
        default=1000, ge=0, le=100_000, alias="LICENSEFLOW_MAX_CACHED_WORKFLOWS"
    )
    max_concurrent_activities: int = Field(
        default=50, ge=1, le=1000, alias="LICENSEFLOW_MAX_CONCURRENT_ACTIVITIES"
    )
    worker_db_pool_size: int = Field(default=30, ge=2, le=500, alias="LICENSEFLOW_WORKER_DB_POOL")
    # on: our `workflows` modules are re-imported in the sandbox for every run, so its
    # restrictions cover their module-level imports too (the test suite and the replayer
    # run this way); off: imported once per worker, about 4x less memory per cached
    # workflow (workers/main.py `sandbox_runner`)
    strict_sandbox: bool = Field(default=False, alias="LICENSEFLOW_STRICT_SANDBOX")
    # --- HTTP edge (api/middleware.py, api/ratelimit.py; README "Security") ---
    # comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For/-Proto are believed;
    # empty: never (the client address is the TCP peer)
    trusted_proxies: str = Field(default="", alias="LICENSEFLOW_TRUSTED_PROXIES")
    rate_limit: bool = Field(default=True, alias="LICENSEFLOW_RATE_LIMIT")  # off: no 429s
    token_rate: float = Field(default=20.0, gt=0, alias="LICENSEFLOW_TOKEN_RATE")  # req/s
    token_burst: int = Field(default=40, ge=1, alias="LICENSEFLOW_TOKEN_BURST")
    ip_rate: float = Field(default=50.0, gt=0, alias="LICENSEFLOW_IP_RATE")  # req/s
    ip_burst: int = Field(default=100, ge=1, alias="LICENSEFLOW_IP_BURST")
    # /codec/* (ops and admin only): the CLI and the Web UI send one call per payload, a few
    # hundred for a long history, so codec calls have buckets of their own, per token and
    # per address, instead of the two above
    codec_rate: float = Field(default=500.0, gt=0, alias="LICENSEFLOW_CODEC_RATE")  # req/s
    codec_burst: int = Field(default=1000, ge=1, alias="LICENSEFLOW_CODEC_BURST")
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

    @field_validator(
        "temporal_tls",
        "temporal_tls_ca",
        "temporal_tls_cert",
        "temporal_tls_key",
        "temporal_tls_server_name",
        "temporal_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`TEMPORAL_TLS_CA=` in an env file means unset, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_temporal_transport(self) -> Settings:
        files = {
            TLS_CA: self.temporal_tls_ca,
            TLS_CERT: self.temporal_tls_cert,
            TLS_KEY: self.temporal_tls_key,
        }
        given = [name for name, path in files.items() if path is not None]
        if self.temporal_tls_server_name:
            given.append("TEMPORAL_TLS_SERVER_NAME")
        if self.temporal_tls is False and given:
            raise ValueError(
                f"TEMPORAL_TLS=false but {', '.join(map(setting_name, given))} set: "
                "drop TEMPORAL_TLS=false to use TLS, or unset them"
            )
        cert, key = self.temporal_tls_cert, self.temporal_tls_key
        if (cert is None) != (key is None):
            have, lack = (TLS_CERT, TLS_KEY) if key is None else (TLS_KEY, TLS_CERT)
            raise ValueError(
                f"{setting_name(have)} is set without {setting_name(lack)}: mTLS needs "
                "the client certificate and its key"
            )
        if self.temporal_tls_ca is not None:
            check_certificates(self.temporal_tls_ca, TLS_CA)
        if cert is not None and key is not None:
            check_key_pair(cert, key)
        if (
            self.environment == "production"
            and not self.temporal_tls_enabled
            and not self.allow_plaintext_temporal
            and not is_loopback(self.temporal_address)
        ):
            raise ValueError(
                f"TEMPORAL_ADDRESS {self.temporal_address} is not loopback and TLS is off: in "
                "production set TEMPORAL_TLS=true (with TEMPORAL_TLS_SERVER_CA_CERT_PATH for "
                "a private CA, TEMPORAL_TLS_CLIENT_CERT_PATH/_KEY_PATH for mTLS) or "
                "TEMPORAL_API_KEY; only for a frontend on a private network that nothing else "
                "reaches, LICENSEFLOW_ALLOW_PLAINTEXT_TEMPORAL=true (deploy/README.md)"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _no_open_proxy_trust_in_production(self) -> Settings:
        if self.environment == "production":
            wide = [
                str(n)
                for n in self.trusted_proxy_networks
                if n.prefixlen < (8 if n.version == 4 else 32)
            ]
            if wide:
                raise ValueError(
                    f"LICENSEFLOW_TRUSTED_PROXIES holds {', '.join(wide)}: so wide a network "
                    "lets any client forge its address; name the proxies' own addresses"
                )
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def codec_origins(self) -> tuple[str, ...]:
        """Browser origins the codec server answers (CORS, codec sessions): the configured
        ones, else the local Temporal UI on 127.0.0.1 and localhost."""
        found = tuple(
            o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()
        )
        port = self.ui_port
        return found or (f"http://127.0.0.1:{port}", f"http://localhost:{port}")

    @property
    def temporal_tls_enabled(self) -> bool:
        """TLS to Temporal: TEMPORAL_TLS=true, or any TLS setting or an API key (as the
        `temporal` CLI), unless TEMPORAL_TLS=false."""
        if self.temporal_tls is not None:
            return self.temporal_tls
        return any(
            (
                self.temporal_tls_ca,
                self.temporal_tls_cert,
                self.temporal_tls_server_name,
                self.temporal_api_key,
            )
        )

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
