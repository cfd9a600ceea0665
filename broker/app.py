"""The FastAPI application: REST API, WebSocket hub, static pages, scheduler — one process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from broker import apidocs
from broker.api import ROUTERS
from broker.auth import security as auth_security
from broker.auth import throttle as auth_throttle
from broker.booking import scheduled as booking_scheduled
from broker.config import Settings, get_settings
from broker.database import make_engine
from broker.errors import (
    DATABASE_ERRORS,
    DomainError,
    database_error_handler,
    domain_error_handler,
    http_error_handler,
    validation_error_handler,
)
from broker.interpreter import liveness as interpreter_liveness
from broker.live.runtime import Runtime
from broker.notification import sender as notification_sender
from broker.ops import runtime as ops_runtime
from broker.ops.headers import SecurityHeaders
from broker.request import scheduled as request_scheduled
from broker.retention import scheduled as retention_scheduled
from broker.rtc import hub as rtc_hub
from broker.rtc.views import router as rtc_router
from broker.scheduler import setup as scheduler_setup


class Background(Protocol):
    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self, runtime: Runtime) -> None: ...


log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


# Areas with background work, in start order (stopped in reverse): each has `start(runtime)`
# and `stop(runtime)`. The hub comes first (effects are published to it), the scheduler
# before the areas that put jobs on it.
BACKGROUND: tuple[Background, ...] = (
    rtc_hub,  # signalling: WebSocket hub, rooms, presence (broker/rtc/hub.py)
    request_scheduled,  # on-demand dispatch loop, presence, replay (broker/request/scheduled.py)
    interpreter_liveness,  # several instances: heartbeat, ghosts go offline (broker/interpreter/liveness.py)
    notification_sender,  # e-mail outbox delivery loop (broker/notification/sender.py)
    scheduler_setup,  # timed jobs; one active process via a lease (broker/scheduler/setup.py)
    booking_scheduled,  # bookings' reminders, room opening, no-show checks
    retention_scheduled,  # the daily deletion of old operational data
    ops_runtime,  # JSON logs, drain on SIGTERM (broker/ops/runtime.py)
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    runtime = Runtime(settings=settings, engine=make_engine(settings), ops=ops_runtime.ops_of(app))
    app.state.runtime = runtime
    started: list[Background] = []
    try:
        for area in BACKGROUND:
            await area.start(runtime)
            started.append(area)
        yield
    finally:
        for area in reversed(started):
            await area.stop(runtime)
        await runtime.engine.dispose()


# An idle keep-alive connection stays open longer than the proxy in front keeps its idle upstream
# connections (Caddy: 2 minutes), so the proxy never reuses one the server is just closing; the
# request on it would fail with a reset (uvicorn's default is 5 s).
KEEP_ALIVE_SECONDS = 130


def server_config(app: FastAPI, *, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    """How `videodolmetschen serve` runs the app (tests serve it the same way)."""
    settings: Settings = app.state.settings
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",  # measured: less memory per socket and more relayed msgs/s than the default
        ws_per_message_deflate=False,  # signalling messages are small; compression costs ~30 KiB a socket
        ws_max_size=65536,  # the protocol caps messages at 64 KiB; refuse bigger frames early
        # The client address (sign-in throttle, logs) comes from X-Forwarded-For only when the
        # direct peer is one of these proxies; anyone else could forge it.
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_level=log_level,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Videodolmetschen",
        version="0.1.0",
        description="Video interpreting for public-authority counters in Thuringia.",
        lifespan=lifespan,
        docs_url=None,  # served by broker/apidocs.py behind a guard that depends on the setting
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings  # what the lifespan builds the runtime from (`app.state.runtime`)
    auth_security.configure(settings.password_hash_threads)
    app.state.login_gate = auth_throttle.Gate()  # sign-ins for one counter queue without a connection
    app.add_middleware(SecurityHeaders)  # nosniff, no referrer, camera/microphone for self only
    ops_runtime.install(app)  # drain middleware and the per-app metrics registry (broker/ops)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for error in DATABASE_ERRORS:  # 503 database_unavailable with Retry-After (broker/errors.py)
        app.add_exception_handler(error, database_error_handler)
    for router in ROUTERS:
        app.include_router(router)
    apidocs.install(app, settings)
    app.include_router(rtc_router)  # /ws and /api/rtc/* (broker/rtc/views.py)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/login.html")

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
