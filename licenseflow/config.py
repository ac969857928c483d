"""Settings read from the environment (and `.env`), one object for every entry point."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from licenseflow import TASK_QUEUE


class Settings(BaseSettings):
    """Where Temporal, PostgreSQL and the API live; unset URLs mean "embedded, under data_dir"."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

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
        default="dev-esign-secret", alias="LICENSEFLOW_ESIGN_SECRETS"
    )  # comma-separated, newest first; several allow rotation
    signing_provider: str = Field(default="local", alias="LICENSEFLOW_SIGNING_PROVIDER")

    @property
    def webhook_secrets(self) -> list[str]:
        return [s.strip() for s in self.esign_webhook_secrets.split(",") if s.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
