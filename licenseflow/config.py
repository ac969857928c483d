"""Settings read from the environment (and `.env`), one object for every entry point."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from licenseflow import TASK_QUEUE

DEV_ESIGN_SECRET = "dev-esign-secret"
PLACEHOLDER_SECRETS = frozenset({DEV_ESIGN_SECRET, "change-me"})


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

    @property
    def webhook_secrets(self) -> list[str]:
        return [s.strip() for s in self.esign_webhook_secrets.split(",") if s.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
