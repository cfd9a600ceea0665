"""The app's operations state: settings, drain flag, metrics registry; started by the lifespan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI

from broker.config import Settings
from broker.ops import logging as ops_logging
from broker.ops.drain import Drain, DrainMiddleware, install_sigterm
from broker.ops.metrics import AppMetrics

log = logging.getLogger(__name__)


@dataclass
class Ops:
    settings: Settings
    drain: Drain = field(default_factory=Drain)
    metrics: AppMetrics = field(default_factory=AppMetrics)
    undo_signal: Callable[[], None] = lambda: None


def install(app: FastAPI, settings: Settings | None = None) -> Ops:
    """At app creation: the drain middleware and a per-app metrics registry (`app.state.ops`)."""
    ops = Ops(settings=settings or app.state.settings)
    app.state.ops = ops
    app.add_middleware(DrainMiddleware, drain=ops.drain)
    return ops


def ops_of(app: FastAPI) -> Ops:
    ops = getattr(app.state, "ops", None)
    if not isinstance(ops, Ops):
        ops = install(app)
    return ops


async def start(app: FastAPI) -> Ops:
    """In the lifespan: JSON logs if configured, SIGTERM drains first, retention job registered."""
    ops = ops_of(app)
    ops_logging.configure(ops.settings)
    ops.undo_signal = install_sigterm(ops.drain, ops.settings.drain_seconds)
    hub = getattr(app.state, "hub", None)
    if hub is not None:  # open sockets close with 1001 before uvicorn would close them with 1012
        ops.drain.before_stop.append(hub.close_sockets)
    scheduler = getattr(app.state, "scheduler", None)
    if scheduler is not None:
        from broker.retention import scheduled as retention_scheduled

        retention_scheduled.register(scheduler)
    return ops


async def stop(app: FastAPI) -> None:
    ops = getattr(app.state, "ops", None)
    if isinstance(ops, Ops):
        ops.drain.begin()  # whatever stops us: refuse new calls for the last moments
        ops.undo_signal()
