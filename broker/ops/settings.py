"""Operations settings, read from the same `VD_*` environment as `broker.config.Settings`.

Kept apart from the product settings so that operations can change without touching them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VD_", env_file=".env", extra="ignore")

    # Bearer token for /metrics; empty: only loopback clients may scrape.
    metrics_token: str = ""
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    # SIGTERM: report `draining` on /healthz for this long before the server stops, so the
    # proxy's health check (every 2 s) moves new traffic to the other instance first.
    drain_seconds: float = Field(default=5.0, ge=0, le=300)
