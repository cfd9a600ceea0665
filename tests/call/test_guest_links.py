"""Guest links are one-time, on both databases: the real app under uvicorn, real sockets.

Only the latest link of a call admits a guest (issuing a new one revokes the previous), and a
link once used stays used after the server restarts, because its use is in the database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from websockets.asyncio.client import connect

from broker.call.models import Call
from broker.config import Settings
from broker.database import utcnow
from broker.enums import CallStatus, Qualification, RequestMode, RequestStatus, Role
from broker.request.models import InterpretingRequest
from tests.conftest import LiveServer, World, add_user, free_port
from tests.conftest import serve_app as serve


async def accepted_call(db: AsyncSession, world: World) -> tuple[int, str]:
    """An accepted on-demand request of caseworker_a with its waiting room (request id, room id)."""
    interpreter = await add_user(db, "guest_test_interpreter", Role.INTERPRETER,
                                 languages={"ar": Qualification.CERTIFIED})
    now = utcnow()
    request = InterpretingRequest(
        office_id=world.office_a.id, caseworker_id=world.users["caseworker_a"].id, language_code="ar",
        purpose="residence_permit", mode=RequestMode.ON_DEMAND, status=RequestStatus.ACCEPTED,
        interpreter_id=interpreter.id, created_at=now, accepted_at=now)
    db.add(request)
    await db.flush()
    db.add(Call(id="guest-room-1", request_id=request.id, status=CallStatus.WAITING, created_at=now,
                opens_at=now, expires_at=now + timedelta(hours=1)))
    await db.commit()
    return request.id, "guest-room-1"


def token_of(url: str) -> str:
    return url.split("&token=", 1)[1]


async def guest_join(server: LiveServer, room: str, token: str) -> dict[str, Any]:
    """An anonymous socket joins as the guest; the server's answer (`joined` or `error`)."""
    async with connect(f"{server.ws_url}/ws", origin=server.url, compression=None) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "hello", "version": 1}))
        await ws.send(json.dumps({"type": "join", "room": room, "token": token}))
        async with asyncio.timeout(10):
            while True:
                frame: dict[str, Any] = json.loads(await ws.recv())
                if frame["type"] in ("joined", "error"):
                    return frame


async def test_guest_link_is_one_time_newest_only_and_stays_used_after_restart(
        settings: Settings, engine: AsyncEngine, db: AsyncSession, world: World) -> None:
    """A second guest link revokes the first (`token-revoked`); the second admits the guest once;
    after a server restart the same link is refused as `token-used`; a newly issued link works."""
    request_id, room = await accepted_call(db, world)
    caseworker = world.auth("caseworker_a")
    port = free_port()
    async with serve(settings, port) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        first = await http.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)
        second = await http.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)
        assert first.status_code == second.status_code == 201, (first.text, second.text)
        revoked = await guest_join(server, room, token_of(first.json()["url"]))
        assert revoked["type"] == "error" and revoked["code"] == "token-revoked", revoked
        joined = await guest_join(server, room, token_of(second.json()["url"]))
        assert joined["type"] == "joined" and joined["role"] == "guest", joined
    async with serve(settings, port) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        # the caseworker's own join reopens the room in the fresh hub, as after any restart
        assert (await http.get(f"/api/requests/{request_id}/join", headers=caseworker)).status_code == 200
        used = await guest_join(server, room, token_of(second.json()["url"]))
        assert used["type"] == "error" and used["code"] == "token-used", used
        third = await http.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)
        fresh = await guest_join(server, room, token_of(third.json()["url"]))
        assert fresh["type"] == "joined", fresh


async def test_a_link_refused_while_the_dropped_guests_seat_is_held_is_not_spent(
        settings: Settings, engine: AsyncEngine, db: AsyncSession, world: World) -> None:
    """The first guest's browser closes; the caseworker hands out a new link at once. While the old
    seat is held for its rejoin grace the new link is refused as `room-full`, and it stays unspent:
    once the grace has run out, the same link admits the new guest."""
    settings = settings.model_copy(update={"rejoin_grace_seconds": 2.0})
    request_id, room = await accepted_call(db, world)
    caseworker = world.auth("caseworker_a")
    async with serve(settings, free_port()) as server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        first = await http.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)
        assert (await guest_join(server, room, token_of(first.json()["url"])))["type"] == "joined"
        second = token_of((await http.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)).json()["url"])
        held = await guest_join(server, room, second)
        assert held["type"] == "error" and held["code"] == "room-full", held
        await asyncio.sleep(3.5)  # the 2 s grace, and the hub's once-a-second sweep
        joined = await guest_join(server, room, second)
        assert joined["type"] == "joined" and joined["role"] == "guest", joined
