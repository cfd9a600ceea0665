"""One typed settings object for the whole product, read from `VD_*` environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from broker.routing.policy import DEFAULT_POLICY, RoutingPolicy

DEFAULT_SECRET = "change-me-development-only"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class DispatchStrategy(StrEnum):
    SEQUENTIAL = "sequential"
    RING = "ring"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VD_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./var/videodolmetschen.db"
    database_echo: bool = False
    # PostgreSQL: a refused or partitioned database must answer fast (503), not hang a request.
    database_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_statement_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # /healthz gives the database this long to answer `SELECT 1` before it reports 503: short
    # enough that a proxy's health check (often 1-2 s) sees "unavailable", not its own timeout.
    health_database_timeout_seconds: float = Field(default=0.8, gt=0, le=30)
    secret_key: str = DEFAULT_SECRET
    public_base_url: str = "http://127.0.0.1:8000"
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    host: str = "127.0.0.1"
    port: int = 8000

    # Sessions and login throttling
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    cookie_secure: bool = False
    # Sign-in throttle (docs/security.md): attempts that pass at once per account and per
    # source address, then a doubling delay capped small per account (someone else's guesses
    # must not lock a real user out) and large per source (against password spraying).
    login_account_free_attempts: int = Field(default=5, ge=1)
    login_source_free_attempts: int = Field(default=20, ge=1)
    login_delay_base_seconds: float = Field(default=1.0, gt=0)
    login_account_max_delay_seconds: float = Field(default=30.0, gt=0, le=300)
    login_source_max_delay_seconds: float = Field(default=900.0, gt=0)
    login_window_seconds: int = Field(default=900, ge=1)  # a counter forgets after this quiet time
    # argon2 runs in this many threads, off the event loop (each hash takes ~64 MiB while it runs)
    password_hash_threads: int = Field(default=2, ge=1, le=32)
    # Proxies whose X-Forwarded-For/-Proto uvicorn believes (comma list of addresses or networks)
    forwarded_allow_ips: str = "127.0.0.1"
    # /docs and /openapi.json: None = public except in production, where only admins see them
    api_docs_public: bool | None = None

    # Dispatch
    dispatch_strategy: DispatchStrategy = DispatchStrategy.SEQUENTIAL
    offer_timeout_seconds: float = Field(default=20.0, gt=0)
    ring_size: int = Field(default=3, ge=1, le=100)
    max_wait_seconds: float = Field(default=180.0, gt=0)
    wrap_up_seconds: float = Field(default=30.0, ge=0)
    missed_offers_before_away: int = Field(default=3, ge=1)
    # Who is offered first: `scarcity` (the benchmark winner, bench/routing.py) or `longest_idle`.
    routing_policy: RoutingPolicy = DEFAULT_POLICY
    presence_grace_seconds: float = Field(default=20.0, ge=0)
    # Sockets per second a surviving instance accepts in a reconnect storm (conservative; bench/
    # cluster.py measures it): the users of a dead instance get the grace plus their count / rate.
    reconnect_rate_per_second: float = Field(default=100.0, gt=0)
    rejoin_grace_seconds: float = Field(default=60.0, ge=0)
    # A call whose room nobody is connected to for this long is ended by the dispatcher
    # (both parties crashed or closed the laptop); fractions of a minute are for tests.
    abandoned_call_minutes: float = Field(default=5.0, gt=0)

    # Bookings
    booking_max_minutes: int = Field(default=240, ge=15)
    booking_late_cancel_hours: int = Field(default=24, ge=0)
    booking_room_open_minutes: int = Field(default=10, ge=0)
    booking_no_show_minutes: int = Field(default=5, ge=0)  # 0: checked right at the start
    # Background work in this process: booking scheduler, dispatcher loop, outbox sender.
    scheduler_enabled: bool = True
    scheduler_lease_seconds: float = Field(default=15.0, gt=0)

    # WebRTC / TURN
    stun_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_secret: str = ""
    turn_ttl_seconds: int = Field(default=3600, ge=60)
    echo_peer_limit: int = Field(default=10, ge=0)
    echo_peer_seconds: float = Field(default=60.0, gt=0)

    # Signalling backplane (empty: in memory, one process)
    redis_url: str = ""

    # Privacy
    retention_days: int = Field(default=90, ge=1)
    report_min_cell_count: int = Field(default=3, ge=0)
    # worker processes for reports that compute for long (planning, dashboard): at most this
    # many run at once, off the event loop (broker/report/offload.py)
    report_workers: int = Field(default=2, ge=1, le=16)

    # E-mail (empty host: mails go to the log and the admin page)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_tls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "Videodolmetschen <noreply@videodolmetschen.invalid>"

    # Operations: bearer token for /metrics (empty: loopback clients only), log format, and
    # how long SIGTERM reports `draining` on /healthz before stopping, so the proxy's health
    # check moves new traffic to the other instance first.
    metrics_token: str = ""
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"
    drain_seconds: float = Field(default=5.0, ge=0, le=300)
    outbox_sender_enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _lists_from_csv(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in ("allowed_origins", "stun_urls", "turn_urls"):
                if key in data:
                    data[key] = _split_csv(data[key])
        return data

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                raise ValueError(
                    "VD_SECRET_KEY must be set to a random value of at least 32 characters "
                    "outside development (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if self.turn_urls and not self.turn_secret:
                raise ValueError("VD_TURN_SECRET is required when VD_TURN_URLS is set")
        return self

    @property
    def docs_public(self) -> bool:
        if self.api_docs_public is not None:
            return self.api_docs_public
        return self.environment is not Environment.PRODUCTION

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return Path(path) if path and path != ":memory:" else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
