"""Drain: /healthz says `draining`, new calls and sockets are refused, running work continues."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from broker.ops.drain import CLOSE_TRY_AGAIN_LATER, Drain, DrainMiddleware
from tests.conftest import free_port


async def test_healthz_reports_draining(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Healthy before; 503 `draining` once the drain began, so the proxy moves new traffic away."""
    assert (await client.get("/healthz")).status_code == 200
    app.state.ops.drain.begin()
    response = await client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "draining"


async def test_new_requests_refused_while_draining(app: FastAPI, client: httpx.AsyncClient) -> None:
    """POST /api/requests answers 503 `draining` with Retry-After; other routes still answer."""
    app.state.ops.drain.begin()
    response = await client.post("/api/requests", json={})
    assert response.status_code == 503 and response.json()["code"] == "draining"
    assert response.headers["retry-after"] == "1"
    assert (await client.get("/api/languages")).status_code in (200, 401)


async def test_new_websockets_refused_while_draining() -> None:
    """A WebSocket handshake during the drain is accepted and closed with 1013 (try again later)."""
    drain = Drain()
    drain.begin()
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not see the socket")

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await DrainMiddleware(inner, drain)({"type": "websocket", "path": "/ws"}, receive, send)
    assert sent == [{"type": "websocket.accept"},
                    {"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER, "reason": "draining"}]


@pytest.mark.slow
def test_sigterm_drains_then_stops_the_server(tmp_path: Path) -> None:
    """`videodolmetschen serve` answers `draining` after SIGTERM, then exits by itself."""
    port = free_port()
    env = {**os.environ, "VD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
           "VD_DRAIN_SECONDS": "5", "VD_SCHEDULER_ENABLED": "false", "VD_ENVIRONMENT": "test"}
    exe = Path(sys.executable).parent / "videodolmetschen"
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5  # the drain lasts 5 s; a loaded machine may take a while to signal
        while (response := httpx.get(url, timeout=1)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert response.status_code == 503 and response.json()["status"] == "draining"
        assert proc.poll() is None, "still serving during the drain"
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _serve(tmp_path: Path, drain_seconds: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "VD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
           "VD_DRAIN_SECONDS": drain_seconds, "VD_SCHEDULER_ENABLED": "false", "VD_ENVIRONMENT": "test"}
    exe = Path(sys.executable).parent / "videodolmetschen"
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("server did not start")


async def _close_code(ws: Any, timeout: float) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None


@pytest.mark.slow
async def test_drain_closes_new_sockets_with_1013_and_open_ones_with_1001(tmp_path: Path) -> None:
    """Real server after SIGTERM: a new WebSocket is closed with 1013 (not an HTTP 403) and an
    open one with 1001 when the drain ends (not uvicorn's 1012), as docs/deployment.md says."""
    proc, port = _serve(tmp_path, "5")
    url = f"ws://127.0.0.1:{port}/ws"
    try:
        async with connect(url) as open_socket:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(5):  # within the 5 s drain
                while httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code != 503:
                    await asyncio.sleep(0.05)
            async with connect(url) as late_socket:
                assert await _close_code(late_socket, 5) == CLOSE_TRY_AGAIN_LATER
            assert await _close_code(open_socket, 10) == 1001
        await asyncio.to_thread(proc.wait, 15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
