"""A real signalling server per test: uvicorn on a free loopback port, a Hub, real sockets.

The app is deliberately small (the signalling router and a Hub with a test `authenticate`)
so these tests need no database; the lead's full app wires the same Hub the same way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from broker.config import Settings
from broker.rtc.views import get_hub, router
from signaling.backplane import InMemoryBackplane
from signaling.client.peer import Participant
from signaling.hub import Hub
from signaling.principal import Principal
from signaling.tokens import TokenError, verify_ws_token
from tests.waiting import eventually

ORIGIN = "http://counter.example"
SECRET = "signalling-test-secret-0123456789abcdef"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "secret_key": SECRET,
        "allowed_origins": [ORIGIN],
        "presence_grace_seconds": 0.4,
        "rejoin_grace_seconds": 3.0,
        "echo_peer_limit": 2,
        "echo_peer_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def authenticate(ws: WebSocket) -> Principal | None:
    """Test stand-in for the broker: `?user=<id>` signs in, `?token=` is a ws token."""
    token = ws.query_params.get("token")
    if token:
        try:
            user_id = verify_ws_token(SECRET, token, now=datetime.now(UTC).timestamp())
        except TokenError:
            return None
        return Principal(user_id=user_id, role="caseworker", display_name=f"User {user_id}")
    user = ws.query_params.get("user")
    if user and user.isdigit():
        return Principal(user_id=int(user), role="caseworker", display_name=f"User {user}")
    return None


class Server:
    def __init__(self, hub: Hub, app: FastAPI, server: uvicorn.Server) -> None:
        self.hub, self.app, self.server = hub, app, server
        sock = server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        self.http_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"

    def open_room(self, room_id: str, minutes: float = 30) -> None:
        self.hub.open_room(room_id, expires_at=datetime.now(UTC) + timedelta(minutes=minutes))

    def participant(self, room_id: str, role: str, user_id: int | None = None, **kwargs: Any) -> Participant:
        """An aiortc participant signed in as `user_id` (anonymous if None) holding a fresh token."""
        url = self.ws_url + (f"?user={user_id}" if user_id is not None else "")
        return Participant(url, room=room_id, token=self.token(room_id, role, user_id), **kwargs)

    def token(self, room_id: str, role: str, user_id: int | None = None, seconds: float = 600) -> str:
        expires = datetime.now(UTC) + timedelta(seconds=seconds)
        return self.hub.issue_join_token(room_id, user_id=user_id, role=role, expires_at=expires)


@asynccontextmanager
async def serve_hub(hub: Hub, *, ws_max_size: int = 256 * 1024) -> AsyncIterator[Server]:
    """The signalling router around `hub`, under uvicorn on a free loopback port."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.dependency_overrides[get_hub] = lambda: hub
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
        ws_per_message_deflate=False, ws_max_size=ws_max_size,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done())
    if task.done():
        await task
    try:
        yield Server(hub, app, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def run_server(
    *,
    backplane: InMemoryBackplane | None = None,
    current_state: Callable[[int], Awaitable[list[dict[str, Any]]]] | None = None,
    settings: dict[str, Any] | None = None,
    **hub_kwargs: Any,
) -> AsyncIterator[Server]:
    hub = Hub(
        settings=make_settings(**(settings or {})),
        backplane=backplane or InMemoryBackplane(),
        authenticate=authenticate,
        current_state=current_state,
        **hub_kwargs,
    )
    async with serve_hub(hub) as server:
        yield server


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with run_server() as srv:
        yield srv


class Client:
    """A raw protocol client: JSON in, JSON out, and a look at how the socket was closed."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, srv: Server, *, user: int | None = None, origin: str | None = ORIGIN,
                   hello: bool = True) -> Client:
        url = srv.ws_url + (f"?user={user}" if user is not None else "")
        ws = await connect(url, origin=origin, compression=None, max_size=None)  # type: ignore[arg-type]
        client = cls(ws)
        if hello:
            await client.send({"type": "hello", "version": 1})
            assert (await client.expect("welcome"))["version"] == 1
        return client

    async def send(self, message: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        return data

    async def expect(self, kind: str, timeout: float = 5.0, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Next frame of this type, skipping heartbeat pings, replayed events and `skip` types."""
        while True:
            msg = await self.recv(timeout)
            if msg["type"] == kind:
                return msg
            if msg["type"] in ("ping", "event", *skip):
                continue
            raise AssertionError(f"expected {kind}, got {msg}")

    async def join(self, room: str, token: str) -> dict[str, Any]:
        await self.send({"type": "join", "room": room, "token": token})
        return await self.recv()

    async def close_code(self, timeout: float = 5.0) -> int | None:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        raise AssertionError("socket was not closed")

    async def close(self) -> None:
        await self.ws.close()
