"""Dispatch test support: a recording hub, interpreters online, counting rows, invariants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from broker.app import create_app
from broker.auth import service as auth_service
from broker.config import Settings
from broker.database import utcnow
from broker.enums import InterpreterStatus, OfferStatus, Qualification, RequestMode, RequestStatus, Role
from broker.interpreter.models import InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.live.unit import FixedOutlet, bind
from broker.request import lifecycle
from broker.request.models import InterpretingRequest, Offer
from broker.request.scheduled import Dispatcher
from broker.user.models import User
from tests.conftest import World, add_user


@dataclass
class RecordingRealtime:
    """Implements `broker.live.effects.Realtime` and records what it was asked to do."""

    online: set[int] = field(default_factory=set)
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rooms: dict[str, datetime] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:
        self.events.append((user_id, event))

    def is_online(self, user_id: int) -> bool:
        return user_id in self.online

    def open_room(self, room_id: str, *, expires_at: datetime) -> None:
        self.rooms[room_id] = expires_at

    def close_room(self, room_id: str, reason: str = "ended") -> object:
        self.closed.append(room_id)
        self.rooms.pop(room_id, None)
        return None

    def issue_join_token(self, room_id: str, *, user_id: int | None, role: str, expires_at: datetime) -> str:
        assert room_id in self.rooms, "a token for a room that is not open"
        return f"token:{room_id}:{user_id}:{role}"

    def ice_servers(self, user_id: int | str | None) -> list[dict[str, object]]:
        return [{"urls": ["stun:stun.example:3478"]}]

    async def room_occupied(self, room_id: str) -> bool:  # noqa: ARG002
        return True  # no sockets here: rooms are never taken for abandoned

    def of(self, user_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for u, e in self.events if u == user_id and (kind is None or e["type"] == kind)]


@pytest.fixture
def rt() -> RecordingRealtime:
    return RecordingRealtime()


async def add_interpreter(db: AsyncSession, name: str, languages: dict[str, Qualification] | None = None, *,
                          online: bool = True, idle_minutes: float = 10.0, world: World | None = None,
                          **profile: Any) -> User:
    """An interpreter who is online and available (idle for `idle_minutes`) unless told otherwise.

    With a `world`, the interpreter also gets a bearer header there (`world.auth(name)`).
    """
    user = await add_user(db, name, Role.INTERPRETER, languages=languages or {"ar": Qualification.CERTIFIED})
    row = await db.get(InterpreterProfile, user.id)
    assert row is not None
    row.online = online
    row.wants_offers = True
    row.status = InterpreterStatus.AVAILABLE if online else InterpreterStatus.OFFLINE
    row.idle_since = utcnow() - timedelta(minutes=idle_minutes)
    for key, value in profile.items():
        setattr(row, key, value)
    if world is not None:
        token = await auth_service.start_session(db=db, user=user, kind="bearer", hours=1)
        world.headers[name] = {"Authorization": f"Bearer {token}"}
        world.users[name] = user
    await db.commit()
    db.expunge(user)  # keeps its loaded attributes through later rollbacks of the test's session
    return user


async def count(db: AsyncSession, model: Any, *where: Any) -> int:
    return int((await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def snapshot(db: AsyncSession) -> dict[str, int]:
    """Row counts of everything dispatch writes (bad input must leave these unchanged)."""
    await db.rollback()
    counts = {"requests": await count(db, InterpretingRequest), "offers": await count(db, Offer),
              "ledger": await count(db, LedgerEntry),
              "busy": await count(db, InterpreterProfile, InterpreterProfile.status != InterpreterStatus.AVAILABLE)}
    await db.rollback()  # SQLite: an open transaction would hold the write lock
    return counts


async def check_invariants(db: AsyncSession) -> None:
    """Every rule of the design, checked against the database as it is now."""
    await db.rollback()
    offers = list((await db.execute(select(Offer))).scalars())
    requests = {r.id: r for r in (await db.execute(select(InterpretingRequest))).scalars()}
    profiles = {p.user_id: p for p in (await db.execute(select(InterpreterProfile))).scalars()}
    ledger = list((await db.execute(select(LedgerEntry))).scalars())
    accepted: dict[int, list[Offer]] = {}
    for offer in offers:
        if offer.status is OfferStatus.ACCEPTED:
            accepted.setdefault(offer.request_id, []).append(offer)
    assert all(len(v) == 1 for v in accepted.values()), "a request accepted twice"
    live = [o for o in offers if o.status is OfferStatus.ACCEPTED and o.closed_at is None]
    assert len({o.interpreter_id for o in live}) == len(live), "an interpreter in two sessions"
    pending = [o for o in offers if o.status is OfferStatus.PENDING]
    assert len({o.interpreter_id for o in pending}) == len(pending), "an interpreter with two pending offers"
    booked_live = {r.interpreter_id for r in requests.values()
                   if r.mode is RequestMode.BOOKED and r.status is RequestStatus.CONNECTED}
    for uid, profile in profiles.items():
        mine_pending = [o for o in pending if o.interpreter_id == uid]
        mine_live = [o for o in live if o.interpreter_id == uid]
        assert not (mine_pending and mine_live), "an offer to a busy interpreter"
        assert (profile.status is InterpreterStatus.OFFERED) == bool(mine_pending), (uid, profile.status)
        assert (profile.status is InterpreterStatus.IN_SESSION) == bool(mine_live or uid in booked_live), (
            uid, profile.status)
    for request in requests.values():
        mine = [o for o in pending if o.request_id == request.id]
        if request.status is RequestStatus.OFFERED:
            assert mine, f"request {request.id} offered without a pending offer"
        else:
            assert not mine, f"request {request.id} is {request.status} but has pending offers"
        on_demand_call = request.mode is RequestMode.ON_DEMAND and request.status in lifecycle.IN_CALL
        if on_demand_call:
            assert [o.interpreter_id for o in accepted.get(request.id, [])] == [request.interpreter_id]
    ledger_ids = [e.request_id for e in ledger if e.request_id is not None]
    assert len(ledger_ids) == len(set(ledger_ids)), "two ledger rows for one request"
    final = {RequestStatus.COMPLETED, RequestStatus.FAILED, RequestStatus.CANCELLED, RequestStatus.UNFILLED}
    assert set(ledger_ids) == {r.id for r in requests.values() if r.status in final}, "ledger out of step"
    await db.rollback()


def dispatch_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update=overrides)


async def run_effects(db: AsyncSession, rt: RecordingRealtime) -> None:
    """What a route does after the service: commit, which publishes to `rt`."""
    bind(db, FixedOutlet(rt))
    await db.commit()


@dataclass
class Api:
    """The real app (hub replaced by a recorder) with an HTTP client and the world in it."""

    app: FastAPI
    client: httpx.AsyncClient
    world: World
    rt: RecordingRealtime
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher = self.app.state.runtime.dispatcher
        assert isinstance(dispatcher, Dispatcher)
        return dispatcher

    async def create(self, caseworker: str = "caseworker_a", **body: Any) -> httpx.Response:
        payload = {"language_code": "ar", "purpose": "residence_permit", **body}
        return await self.client.post("/api/requests", json=payload, headers=self.world.auth(caseworker))


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
async def api(api_settings: Settings, engine: AsyncEngine, world: World, rt: RecordingRealtime,
              sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession) -> AsyncIterator[Api]:
    db.expunge_all()  # the world's users stay readable after the tests' rollbacks
    application = create_app(api_settings)
    async with application.router.lifespan_context(application):
        runtime = application.state.runtime
        runtime.realtime = rt  # what committed routes publish to
        runtime.dispatcher.realtime = rt
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(application, client, world, rt, sessionmaker)
