"""A booking's call through the request API: join, connected from both sides, end, one ledger row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import service as booking_service
from broker.config import Settings
from broker.enums import InterpreterStatus, LedgerOutcome, RequestMode, RequestStatus
from broker.interpreter.models import InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.live.unit import FixedOutlet, bind
from broker.request.models import InterpretingRequest
from tests.booking.conftest import at, booking_body, give_windows, working_day
from tests.request.conftest import Api, add_interpreter, check_invariants


async def open_booking(api: Api, db: AsyncSession, settings: Settings) -> tuple[int, int]:
    """Book amal, let her confirm, open the room as the scheduler would; returns (booking id, amal's id)."""
    amal = await add_interpreter(db, "amal", world=api.world)
    await give_windows(db, amal.id)
    await db.commit()
    body = booking_body(at(working_day(), 10), 45, interpreter_id=amal.id)
    created = await api.client.post("/api/bookings", json=body, headers=api.world.auth("caseworker_a"))
    assert created.status_code == 201, created.text
    booking_id = created.json()["id"]
    confirmed = await api.client.post(f"/api/bookings/{booking_id}/confirm", headers=api.world.auth("amal"))
    assert confirmed.status_code == 200, confirmed.text
    async with api.sessionmaker() as session:
        booking = await session.get(InterpretingRequest, booking_id)
        assert booking is not None
        assert await booking_service.open_room(db=session, booking=booking, settings=settings)
        bind(session, FixedOutlet(api.rt))
        await session.commit()
    return booking_id, amal.id


async def test_booked_call_connects_and_completes_with_one_ledger_row(
        api: Api, db: AsyncSession, settings: Settings) -> None:
    """Both sides report media in an open booking; ending it completes it with exactly one completed ledger row."""
    booking_id, amal_id = await open_booking(api, db, settings)
    caseworker, interpreter = api.world.auth("caseworker_a"), api.world.auth("amal")
    assert [e["request_id"] for e in api.rt.of(amal_id, "call-join")] == [booking_id]
    joined = await api.client.get(f"/api/requests/{booking_id}/join", headers=caseworker)
    assert joined.status_code == 200 and joined.json()["role"] == "counter"
    for headers in (caseworker, interpreter):
        connected = await api.client.post(f"/api/requests/{booking_id}/connected", headers=headers)
        assert connected.status_code == 200, connected.text
        assert connected.json()["status"] == "connected"
    await db.rollback()
    profile = await db.get(InterpreterProfile, amal_id, populate_existing=True)
    assert profile is not None and profile.status is InterpreterStatus.IN_SESSION  # no on-demand offers now
    await check_invariants(db)
    ended = await api.client.post(f"/api/requests/{booking_id}/end", headers=interpreter)
    assert ended.status_code == 200 and ended.json()["status"] == "completed"
    again = await api.client.post(f"/api/requests/{booking_id}/end", headers=caseworker)
    assert again.status_code == 200 and again.json()["status"] == "completed"
    await db.rollback()
    rows = list((await db.execute(select(LedgerEntry).where(LedgerEntry.request_id == booking_id))).scalars())
    assert [(r.outcome, r.mode) for r in rows] == [(LedgerOutcome.COMPLETED, RequestMode.BOOKED)]
    assert rows[0].connected_at is not None and rows[0].interpreter_id == amal_id
    profile = await db.get(InterpreterProfile, amal_id, populate_existing=True)
    assert profile is not None and profile.status is not InterpreterStatus.IN_SESSION
    await check_invariants(db)


async def test_ending_a_booking_that_never_connected_leaves_it_open(
        api: Api, db: AsyncSession, settings: Settings) -> None:
    """Hanging up before media flowed keeps the booking open (the no-show check decides), no ledger row."""
    booking_id, _amal_id = await open_booking(api, db, settings)
    ended = await api.client.post(f"/api/requests/{booking_id}/end", headers=api.world.auth("caseworker_a"))
    assert ended.status_code == 409 and ended.json()["code"] == "no_call"
    await db.rollback()
    booking = await db.get(InterpretingRequest, booking_id, populate_existing=True)
    assert booking is not None and booking.status is RequestStatus.OPEN
    assert (await db.execute(select(LedgerEntry).where(LedgerEntry.request_id == booking_id))).first() is None
