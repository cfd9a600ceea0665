"""Graceful shutdown: SIGTERM first drains, then stops.

Draining means: `/healthz` answers 503 `draining` so the proxy's health check moves new
traffic to the other instance; new WebSockets are accepted and closed at once with 1013
("try again later": a refused handshake would reach the page as 403 or 1006, which reads as
"forbidden"), new on-demand requests get 503 with Retry-After, so the client retries through
the proxy. Sockets already open stay until `drain_seconds` later; then the `before_stop`
hooks close them with 1001 (going away) *before* the server's own shutdown, which would
close them with 1012. Their calls rejoin on the other instance (rooms live in Redis),
within the rejoin grace period.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# POSTs that would start a new call on this instance; refused while draining.
NEW_CALL_PATHS = frozenset({"/api/requests", "/api/bookings"})
CLOSE_TRY_AGAIN_LATER = 1013
STOP_HOOK_SECONDS = 5.0  # a hook that hangs must not keep the server from stopping


class Drain:
    def __init__(self) -> None:
        self.draining = False
        self.since: float | None = None
        # Run when the drain time is over, before the server stops (e.g. close sockets with 1001).
        self.before_stop: list[Callable[[], Awaitable[None]]] = []

    def begin(self) -> None:
        if not self.draining:
            self.draining, self.since = True, time.time()
            log.warning("draining: /healthz reports 503, new calls go to other instances")

    async def run_before_stop(self) -> None:
        for hook in self.before_stop:
            try:
                await asyncio.wait_for(hook(), STOP_HOOK_SECONDS)
            except Exception:
                log.exception("a before-stop hook failed")


class DrainMiddleware:
    """Pure ASGI middleware (no buffering of streamed or WebSocket traffic)."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.drain.draining or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            # Accept first: a close before accept is an HTTP 403 to the client.
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER, "reason": "draining"})
            return
        if path == "/healthz":
            await _json(send, 503, {"status": "draining", "database": "ok"})
            return
        if scope.get("method") == "POST" and path in NEW_CALL_PATHS:
            await _json(send, 503, {"detail": "This instance is shutting down; please retry.",
                                    "code": "draining"}, retry_after=True)
            return
        await self.app(scope, receive, send)


async def _json(send: Send, status: int, body: dict[str, Any], *, retry_after: bool = False) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


SignalHandler = Callable[[int, FrameType | None], Any]


def install_sigterm(drain: Drain, seconds: float) -> Callable[[], None]:
    """Put drain-then-stop in front of the server's own SIGTERM handler; returns an undo.

    Only when a server (uvicorn) has installed a handler in the main thread: in tests and
    embedded use nothing changes. A second SIGTERM stops at once.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return lambda: None
    server_handler: SignalHandler = previous
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()  # keeps the task referenced until it ran

    def handler(signum: int, frame: FrameType | None) -> None:
        if drain.draining:
            server_handler(signum, frame)
            return
        drain.begin()

        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            await drain.run_before_stop()
            server_handler(signum, None)

        def schedule() -> None:
            task = loop.create_task(stop_later(), name="drain-then-stop")
            pending.add(task)
            task.add_done_callback(pending.discard)

        loop.call_soon_threadsafe(schedule)

    signal.signal(signal.SIGTERM, handler)

    def undo() -> None:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, server_handler)

    return undo
