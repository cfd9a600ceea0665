"""Abandoned calls end by themselves: a real server with its dispatcher loop and hub, real sockets.

Two interpreters accept one call each over real WebSockets. One joins its call's room and
stays; the other marks its call connected and vanishes (socket closed, like a crashed
laptop), and the counter never joins. After the (shrunken) grace the empty call is ended the
normal way (ledger `completed`, interpreter out of `in_session`), the occupied one is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect

from broker.config import Settings
from broker.enums import InterpreterStatus, LedgerOutcome, RequestStatus
from broker.interpreter.models import InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from tests.conftest import LOADED_MACHINE_TIMEOUT, LiveServer, World
from tests.request.conftest import add_interpreter

GRACE_MINUTES = 0.03  # 1.8 s


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"scheduler_enabled": True, "abandoned_call_minutes": GRACE_MINUTES,
                                       "wrap_up_seconds": 0.0})


@contextlib.asynccontextmanager
async def socket(server: LiveServer, headers: dict[str, str]) -> AsyncIterator[ClientConnection]:
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=server.url, headers=headers) as http:
        token = (await http.post("/api/rtc/ws-token")).json()["token"]
    async with connect(f"{server.ws_url}/ws?token={token}", origin=server.url) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "version": 1}))
        yield ws


async def next_frame(ws: ClientConnection, want: str) -> dict[str, Any]:
    """The next frame of type `want` (an event's inner type for events), answering pings."""
    async with asyncio.timeout(15):
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "ping":
                await ws.send('{"type":"pong"}')
            if msg["type"] == want:
                return dict(msg)
            if msg["type"] == "event" and msg["event"]["type"] == want:
                return dict(msg["event"])


async def take_call(server: LiveServer, world: World, ws: ClientConnection, interpreter: str) -> dict[str, Any]:
    """The caseworker asks for Arabic; this interpreter accepts the offer; returns its call-join event."""
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=server.url) as http:
        created = await http.post("/api/requests", json={"language_code": "ar", "purpose": "residence_permit"},
                                  headers=world.auth("caseworker_a"))
        assert created.status_code in (200, 201), created.text
        offer = await next_frame(ws, "offer")
        accepted = await http.post(f"/api/offers/{offer['offer_id']}/accept", headers=world.auth(interpreter))
        assert accepted.status_code == 200, accepted.text
    return await next_frame(ws, "call-join")


async def request_status(sessionmaker: async_sessionmaker[AsyncSession], request_id: int) -> RequestStatus:
    async with sessionmaker() as db:
        request = await db.get(InterpretingRequest, request_id)
        assert request is not None
        return request.status


async def test_a_call_whose_room_stays_empty_is_ended_and_one_with_someone_in_the_room_is_not(
    live_server: LiveServer, world: World, db: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for name in ("stays", "vanishes"):
        await add_interpreter(db, name, online=False, world=world)
    await db.commit()
    async with socket(live_server, world.auth("stays")) as stays_ws:
        # Occupied call first: were it taken for empty, it would end no later than the other one.
        occupied = await take_call(live_server, world, stays_ws, "stays")
        await stays_ws.send(json.dumps({"type": "join", "room": occupied["room_id"], "token": occupied["token"]}))
        await next_frame(stays_ws, "joined")
        async with socket(live_server, world.auth("vanishes")) as gone_ws:
            abandoned = await take_call(live_server, world, gone_ws, "vanishes")
            async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=live_server.url) as http:
                connected = await http.post(f"/api/requests/{abandoned['request_id']}/connected",
                                            headers=world.auth("vanishes"))
                assert connected.status_code == 200, connected.text
        # The vanished interpreter's socket is closed; the counter never joined: nobody is there.
        async with asyncio.timeout(30):
            while await request_status(sessionmaker, abandoned["request_id"]) is not RequestStatus.COMPLETED:
                await asyncio.sleep(0.1)
        assert await request_status(sessionmaker, occupied["request_id"]) is RequestStatus.ACCEPTED
        async with sessionmaker() as check:
            entry = (await check.execute(select(LedgerEntry).where(
                LedgerEntry.request_id == abandoned["request_id"]))).scalar_one()
            assert entry.outcome is LedgerOutcome.COMPLETED
            assert entry.talk_seconds < GRACE_MINUTES * 60 + 15  # up to when the room emptied, not the grace
            gone = await check.get(InterpreterProfile, world.users["vanishes"].id)
            kept = await check.get(InterpreterProfile, world.users["stays"].id)
            assert gone is not None and kept is not None
            assert gone.status is not InterpreterStatus.IN_SESSION
            assert kept.status is InterpreterStatus.IN_SESSION
            none_for_occupied = (await check.execute(select(LedgerEntry).where(
                LedgerEntry.request_id == occupied["request_id"]))).scalar_one_or_none()
            assert none_for_occupied is None
