"""Logout and deactivation end the WebSockets too: real sockets against the real app under uvicorn.

A logout closes the sockets of that session (close 4401), a WebSocket token minted before the
logout no longer opens one, and a deactivated interpreter's sockets close and they go offline at
once, with their pending offer withdrawn.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from broker.enums import InterpreterStatus, OfferStatus
from broker.interpreter.models import InterpreterProfile
from broker.request.models import Offer
from signaling.connection import CLOSE_SIGNED_OUT
from tests.conftest import PASSWORD, LiveServer, World

SOCKET_CLOSE_TIMEOUT = 10.0


async def sign_in(http: httpx.AsyncClient, username: str, *, base: str = "") -> dict[str, str]:
    """A fresh bearer session of its own."""
    answer = await http.post(f"{base}/api/auth/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def ws_token(http: httpx.AsyncClient, headers: dict[str, str], *, base: str = "") -> str:
    answer = await http.post(f"{base}/api/rtc/ws-token", headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


async def open_socket(server: LiveServer, token: str) -> ClientConnection:
    ws = await connect(f"{server.ws_url}/ws?token={token}", origin=server.url,  # type: ignore[arg-type]
                       compression=None)
    await ws.send(json.dumps({"type": "hello", "version": 1}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == "welcome":
            assert frame["user_id"] is not None
            return ws


async def frames_until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame the socket still gets, and the close code the server sent."""
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(SOCKET_CLOSE_TIMEOUT):
            while True:
                frames.append(json.loads(await ws.recv()))
    except ConnectionClosed as exc:
        return frames, exc.rcvd.code if exc.rcvd else None


async def profile_state(db: AsyncSession, user_id: int) -> tuple[bool, InterpreterStatus]:
    row = (await db.execute(select(InterpreterProfile.online, InterpreterProfile.status)
                            .where(InterpreterProfile.user_id == user_id))).one()
    await db.rollback()  # the next look sees what the app committed meanwhile
    return bool(row[0]), InterpreterStatus(row[1])


async def offer_status(db: AsyncSession, interpreter_id: int) -> OfferStatus:
    found = (await db.execute(select(Offer.status).where(Offer.interpreter_id == interpreter_id))).scalar_one()
    await db.rollback()
    return OfferStatus(found)


async def still_open(ws: ClientConnection) -> bool:
    """The socket answers a ping with a pong (it was not closed)."""
    await ws.send(json.dumps({"type": "ping"}))
    async with asyncio.timeout(5):
        while True:
            if json.loads(await ws.recv())["type"] == "pong":
                return True


async def test_logout_closes_that_sessions_sockets_and_revokes_its_ws_tokens(
    live_server: LiveServer, world: World
) -> None:
    """After logout the session's open socket gets `signed-out` and close 4401; a WebSocket token
    minted before the logout is refused (4401); a socket of the same user's other session stays."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        laptop = await sign_in(http, "interpreter")
        phone = await sign_in(http, "interpreter")
        laptop_socket = await open_socket(live_server, await ws_token(http, laptop))
        phone_socket = await open_socket(live_server, await ws_token(http, phone))
        spare_token = await ws_token(http, laptop)  # minted before the logout
        assert (await http.post("/api/auth/logout", headers=laptop)).status_code == 204
        frames, code = await frames_until_closed(laptop_socket)
        assert code == CLOSE_SIGNED_OUT
        assert any(f["type"] == "event" and f["event"]["type"] == "signed-out" for f in frames)
        assert await still_open(phone_socket)
        late = await connect(f"{live_server.ws_url}/ws?token={spare_token}", origin=live_server.url)  # type: ignore[arg-type]
        _frames, late_code = await frames_until_closed(late)
        assert late_code == CLOSE_SIGNED_OUT
        await phone_socket.close()


async def test_deactivated_interpreter_is_disconnected_goes_offline_and_loses_the_offer(
    live_server: LiveServer, world: World, db: AsyncSession
) -> None:
    """An available interpreter with an open socket and a pending offer is deactivated: the
    socket closes with 4401, the profile is offline at once (no grace period), the offer is
    withdrawn, and no new socket opens with a token minted before."""
    interpreter_id = world.users["interpreter"].id  # read once: the test's session expires objects
    async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as http:
        own = await sign_in(http, "interpreter")
        socket = await open_socket(live_server, await ws_token(http, own))
        spare_token = await ws_token(http, own)
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # the hub reports the socket; the profile comes online
            online, _status = await profile_state(db, interpreter_id)
            if online or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert online
        available = await http.put("/api/interpreter/status", json={"status": "available"}, headers=own)
        assert available.json()["status"] == "available"
        created = await http.post("/api/requests", headers=world.auth("caseworker_a"),
                                  json={"language_code": "ar", "purpose": "other"})
        assert created.status_code == 201, created.text
        assert await offer_status(db, interpreter_id) is OfferStatus.PENDING
        off = await http.patch(f"/api/users/{interpreter_id}", json={"active": False}, headers=world.auth("admin"))
        assert off.status_code == 200, off.text
        _frames, code = await frames_until_closed(socket)
        assert code == CLOSE_SIGNED_OUT
        assert await profile_state(db, interpreter_id) == (False, InterpreterStatus.OFFLINE)
        assert await offer_status(db, interpreter_id) is not OfferStatus.PENDING
        late = await connect(f"{live_server.ws_url}/ws?token={spare_token}", origin=live_server.url)  # type: ignore[arg-type]
        _frames, late_code = await frames_until_closed(late)
        assert late_code == CLOSE_SIGNED_OUT
