"""Sending to a socket whose peer does not read: the watchdog frees the sender, the socket closes 4429."""

from __future__ import annotations

import asyncio
import time
from typing import cast

import pytest
from starlette.websockets import WebSocket

from signaling.backplane import InMemoryBackplane
from signaling.connection import CLOSE_SLOW, Connection
from signaling.hub import Hub
from signaling.ratelimit import TokenBucket
from tests.signaling.conftest import authenticate, make_settings
from tests.waiting import eventually


class StuckSocket:
    """A WebSocket whose sends block until `release` is set, as when the peer's buffer is full."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[str] = []
        self.closed_with: int | None = None

    async def send_text(self, frame: str) -> None:
        await self.release.wait()
        self.sent.append(frame)

    async def close(self, code: int, reason: str = "") -> None:  # noqa: ARG002 - WebSocket's signature
        self.closed_with = code


def _conn(ws: StuckSocket, send_timeout: float) -> Connection:
    return Connection(cast(WebSocket, ws), None, TokenBucket(10, 10, 0), time.monotonic(), send_timeout)


async def test_send_that_completes_in_time_is_not_expired() -> None:
    """A send that finishes before the timeout delivers its frame and leaves no watchdog state behind."""
    ws = StuckSocket()
    conn = _conn(ws, send_timeout=5)
    task = asyncio.create_task(conn.send("a"))
    await eventually(lambda: conn.sending)
    assert not conn.expire_sends(time.monotonic())
    ws.release.set()
    assert await task is True
    assert ws.sent == ["a"] and not conn.sending and not conn.expired


async def test_watchdog_frees_a_sender_blocked_on_a_peer_that_does_not_read() -> None:
    """A send blocked past the timeout returns False; the sending task itself is not cancelled."""
    conn = _conn(StuckSocket(), send_timeout=0.05)
    task = asyncio.create_task(conn.send("a"))
    await eventually(lambda: conn.sending)
    assert conn.expire_sends(time.monotonic() + 0.08)  # the watchdog's moment, past the timeout
    assert await task is False
    assert not task.cancelled() and not conn.sending and not conn.expired


async def test_outside_cancel_of_a_blocked_send_still_cancels() -> None:
    """Cancelling the sender from elsewhere (shutdown) is not swallowed by the watchdog's handling."""
    conn = _conn(StuckSocket(), send_timeout=0.05)
    task = asyncio.create_task(conn.send("a"))
    await eventually(lambda: conn.sending)
    assert conn.expire_sends(time.monotonic() + 0.08)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_hub_ticker_closes_a_slow_socket_with_4429() -> None:
    """The hub's heartbeat pass expires a blocked send and closes that socket with 4429."""
    hub = Hub(settings=make_settings(), backplane=InMemoryBackplane(), authenticate=authenticate,
              send_timeout_seconds=0.05)
    ws = StuckSocket()
    conn = _conn(ws, send_timeout=0.05)
    hub._conns[conn.id] = conn
    sender = asyncio.create_task(conn.send("a"))
    await eventually(lambda: conn.sending)
    await hub._heartbeat(time.monotonic() + 0.08)  # the ticker's moment, past the send timeout
    assert await sender is False
    await asyncio.gather(*hub._tasks)
    assert ws.closed_with == CLOSE_SLOW and conn.closed
