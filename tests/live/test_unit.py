"""The one commit path: a session's commit publishes what its transaction recorded, and only that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.database import make_sessionmaker
from broker.language.models import Language
from broker.live import effects
from broker.live.effects import NullRealtime
from broker.live.unit import FixedOutlet, bind
from tests.waiting import eventually


@dataclass
class Heard(NullRealtime):
    """A realtime target that remembers every event it was asked to send."""

    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:
        self.events.append((user_id, event))

    def open_room(self, room_id: str, *, expires_at: datetime) -> None:  # noqa: ARG002
        self.rooms.append(room_id)


@dataclass
class CountingOutlet:
    realtime: Heard = field(default_factory=Heard)
    wakes: int = 0

    def wake(self) -> None:
        self.wakes += 1


def _language(code: str) -> Language:
    return Language(code=code, name_de=code, name_en=code, name_native=code)


async def test_a_plain_commit_publishes_before_it_returns(engine: AsyncEngine) -> None:
    """`await db.commit()` after a service recorded an event delivers it: committing is publishing."""
    outlet = CountingOutlet()
    async with make_sessionmaker(engine, outlet=outlet)() as db:
        db.add(_language("xa"))
        effects.notify(db, 7, {"type": "request-status", "status": "offered"})
        effects.pending(db).wake = True
        assert outlet.realtime.events == []  # nothing goes out before the commit
        await db.commit()
        assert outlet.realtime.events == [(7, {"type": "request-status", "status": "offered"})]
        assert outlet.wakes == 1
        await db.commit()  # a later commit does not send the same events again
    assert len(outlet.realtime.events) == 1


async def test_a_rollback_discards_what_the_transaction_recorded(engine: AsyncEngine) -> None:
    """Effects of a rolled-back transaction are never sent, not even by the next commit."""
    outlet = CountingOutlet()
    async with make_sessionmaker(engine, outlet=outlet)() as db:
        db.add(_language("xb"))
        effects.notify(db, 7, {"type": "offer"})
        await db.rollback()
        db.add(_language("xc"))
        effects.notify(db, 8, {"type": "request-status"})
        await db.commit()
    assert outlet.realtime.events == [(8, {"type": "request-status"})]


async def test_a_failed_commit_sends_nothing(engine: AsyncEngine) -> None:
    """A commit the database refuses publishes nothing, and the retry after it only its own."""
    outlet = CountingOutlet()
    async with make_sessionmaker(engine, outlet=outlet)() as db:
        db.add(_language("xd"))
        await db.commit()
        db.add(_language("xd"))  # the same primary key: the commit's flush fails
        effects.notify(db, 7, {"type": "offer"})
        with pytest.raises(IntegrityError):
            await db.commit()
        await db.rollback()
        effects.notify(db, 8, {"type": "after"})
        await db.commit()
    assert outlet.realtime.events == [(8, {"type": "after"})]


async def test_a_commit_past_the_session_method_still_publishes(engine: AsyncEngine) -> None:
    """`async with sessionmaker.begin()` commits without `LiveSession.commit`; the after-commit hook
    still hands the effects to the outlet, so no way of committing drops them."""
    outlet = CountingOutlet()
    async with make_sessionmaker(engine, outlet=outlet).begin() as db:
        db.add(_language("xe"))
        effects.notify(db, 9, {"type": "booking"})
    await eventually(lambda: outlet.realtime.events == [(9, {"type": "booking"})], timeout=5)


async def test_bind_sends_one_session_elsewhere(engine: AsyncEngine) -> None:
    """A job binds its session to its own outlet; the sessionmaker's outlet hears nothing of it."""
    default, own = CountingOutlet(), Heard()
    async with make_sessionmaker(engine, outlet=default)() as db:
        bind(db, FixedOutlet(own))
        db.add(_language("xf"))
        effects.notify(db, 3, {"type": "offer"})
        await db.commit()
    assert own.events == [(3, {"type": "offer"})]
    assert default.realtime.events == []


async def test_a_session_without_outlet_commits_and_publishes_nowhere(engine: AsyncEngine) -> None:
    """The CLI's sessions have no hub: their commit succeeds and the effects have nobody to reach."""
    async with make_sessionmaker(engine)() as db:
        db.add(_language("xg"))
        effects.notify(db, 3, {"type": "offer"})
        await db.commit()
    async with make_sessionmaker(engine)() as db:
        assert await db.get(Language, "xg") is not None
