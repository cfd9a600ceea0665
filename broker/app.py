"""The FastAPI application: REST API, WebSocket hub, static pages, scheduler — one process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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
from broker.config import Settings, get_settings
from broker.database import make_engine, make_sessionmaker
from broker.errors import (
    DATABASE_ERRORS,
    DomainError,
    database_error_handler,
    domain_error_handler,
    http_error_handler,
    validation_error_handler,
)
from broker.interpreter.liveness import start_liveness
from broker.notification import sender as notification_sender
from broker.ops import runtime as ops_runtime
from broker.ops.headers import SecurityHeaders
from broker.request.wiring import start_dispatch
from broker.scheduler.setup import start_scheduler, stop_scheduler
from signaling.views import router as signaling_router
from signaling.wiring import start_hub

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = make_engine(settings)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    hub = await start_hub(app)  # signalling: WebSocket hub, rooms, presence (signaling/wiring.py)
    dispatcher = await start_dispatch(app)  # on-demand dispatch loop, presence, replay (broker/request/wiring.py)
    liveness = start_liveness(app)  # several instances: heartbeat, ghosts go offline (broker/interpreter)
    # e-mail outbox delivery loop (broker/notification/sender.py); None when background work is off
    outbox = notification_sender.start(sessionmaker=app.state.sessionmaker, settings=settings)
    await start_scheduler(app)  # bookings' timed jobs; one active process via a lease (broker/scheduler)
    await ops_runtime.start(app)  # JSON logs, drain on SIGTERM, daily retention job (broker/ops)
    try:
        yield
    finally:
        await ops_runtime.stop(app)
        await stop_scheduler(app)
        await notification_sender.stop(outbox)
        if liveness is not None:
            await liveness.stop()
        await dispatcher.stop()
        await hub.stop()  # closes every socket and echo peer at once
        await engine.dispose()


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
    app.state.settings = settings
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
    app.include_router(signaling_router)  # /ws and /api/rtc/* (signaling/views.py)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/login.html")

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app
