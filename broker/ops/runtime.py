"""The app's operations state: settings, drain flag, metrics registry; started by the lifespan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import FastAPI

from broker.config import Settings
from broker.ops import logging as ops_logging
from broker.ops.drain import Drain, DrainMiddleware, install_sigterm
from broker.ops.metrics import AppMetrics

if TYPE_CHECKING:
    from broker.live.runtime import Runtime

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
    ops = app.state.ops
    assert isinstance(ops, Ops), "create_app installs the operations state"
    return ops


async def start(runtime: Runtime) -> None:
    """In the lifespan: JSON logs if configured, SIGTERM drains first."""
    ops = runtime.ops
    ops_logging.configure(ops.settings)
    ops.undo_signal = install_sigterm(ops.drain, ops.settings.drain_seconds)
    if runtime.hub is not None:  # open sockets close with 1001 before uvicorn would close them with 1012
        ops.drain.before_stop.append(runtime.hub.close_sockets)


async def stop(runtime: Runtime) -> None:
    runtime.ops.drain.begin()  # whatever stops us: refuse new calls for the last moments
    runtime.ops.undo_signal()
