"""The dispatch engine through its services: who is offered, cascades, accept, end, time-outs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import DispatchStrategy, Settings
from broker.database import utcnow
from broker.enums import (
    Gender,
    InterpreterStatus,
    LedgerOutcome,
    OfferStatus,
    Qualification,
    QualificationWish,
    RequestStatus,
)
from broker.interpreter import status as interpreter_status
from broker.interpreter.models import InterpreterProfile
from broker.interpreter.schemas import StatusChoice
from broker.ledger.models import LedgerEntry
from broker.request import offers
from broker.request import service as request_service
from broker.request.models import InterpretingRequest, Offer
from broker.request.scheduled import Dispatcher
from broker.request.schemas import RequestCreate
from broker.user.models import User
from tests.conftest import World
from tests.request.conftest import RecordingRealtime, add_interpreter, check_invariants, run_effects


@pytest.fixture
def seq(settings: Settings) -> Settings:
    return settings.model_copy(update={"dispatch_strategy": DispatchStrategy.SEQUENTIAL,
                                       "offer_timeout_seconds": 20.0, "wrap_up_seconds": 30.0})


async def create(db: AsyncSession, world: World, settings: Settings, rt: RecordingRealtime,
                 **fields: object) -> InterpretingRequest:
    body = {"language_code": "ar", "purpose": "residence_permit", **fields}
    request = await request_service.create(db=db, user=world.users["caseworker_a"],
                                           request_in=RequestCreate.model_validate(body), settings=settings,
                                           now=utcnow())
    await run_effects(db, rt)
    return request


async def pending(db: AsyncSession, request_id: int) -> list[Offer]:
    await db.rollback()
    stmt = select(Offer).where(Offer.request_id == request_id, Offer.status == OfferStatus.PENDING)
    return list((await db.execute(stmt)).scalars())


async def test_sequential_offers_longest_idle_first_then_cascades_on_decline(
        db: AsyncSession, world: World, seq: Settings, rt: RecordingRealtime) -> None:
    """One offer at a time goes to the longest idle interpreter; a decline passes it to the next."""
    early = await add_interpreter(db, "early", idle_minutes=30)
    late = await add_interpreter(db, "late", idle_minutes=5)
    request = await create(db, world, seq, rt)
    [first] = await pending(db, request.id)
    assert first.interpreter_id == early.id
    assert rt.of(early.id, "offer")[0]["offer_id"] == first.id
    await offers.decline(db=db, offer_id=first.id, user=early, settings=seq, now=utcnow())
    await run_effects(db, rt)
    [second] = await pending(db, request.id)
    assert second.interpreter_id == late.id
    await check_invariants(db)


async def test_equal_idle_prefers_stronger_qualification(
        db: AsyncSession, world: World, seq: Settings, rt: RecordingRealtime) -> None:
    """With equal idle time the sworn interpreter is asked before the trained one."""
    now = utcnow()
    trained = await add_interpreter(db, "trained", {"ar": Qualification.TRAINED}, idle_since=now)
    sworn = await add_interpreter(db, "sworn", {"ar": Qualification.SWORN}, idle_since=now)
    request = await create(db, world, seq, rt)
    assert [o.interpreter_id for o in await pending(db, request.id)] == [sworn.id]
    assert trained.id != sworn.id


async def test_ring_offers_k_at_once_and_first_accept_revokes_the_rest(
        db: AsyncSession, world: World, seq: Settings, rt: RecordingRealtime) -> None:
    """Ring mode offers k interpreters; the first accept gets the call, the others are revoked."""
    ring = seq.model_copy(update={"dispatch_strategy": DispatchStrategy.RING, "ring_size": 3})
    people = [await add_interpreter(db, f"i{n}", idle_minutes=20 - n) for n in range(4)]
    request = await create(db, world, ring, rt)
    offered = await pending(db, request.id)
    assert {o.interpreter_id for o in offered} == {p.id for p in people[:3]}
    winner = people[1]
    offer = next(o for o in offered if o.interpreter_id == winner.id)
    _o, accepted, call = await offers.accept(db=db, offer_id=offer.id, user=winner, settings=ring, now=utcnow())
    await run_effects(db, rt)
    assert accepted.status is RequestStatus.ACCEPTED and accepted.interpreter_id == winner.id
    assert await pending(db, request.id) == []
    for loser in (people[0], people[2]):
        assert rt.of(loser.id, "offer-revoked")[0]["reason"] == "taken"
    joins = {uid: e for uid, e in rt.events if e["type"] == "call-join"}
    assert joins[winner.id]["role"] == "interpreter" and joins[world.users["caseworker_a"].id]["role"] == "counter"
    assert call.id in rt.rooms
    profile = await db.get(InterpreterProfile, winner.id)
    assert profile is not None and profile.status is InterpreterStatus.IN_SESSION
    await check_invariants(db)


async def test_only_eligible_interpreters_are_offered(
        db: AsyncSession, world: World, seq: Settings, rt: RecordingRealtime) -> None:
    """Offline, away, busy, over-limit, wrong gender or weaker qualification: never offered."""
    ring = seq.model_copy(update={"dispatch_strategy": DispatchStrategy.RING, "ring_size": 10})
    await add_interpreter(db, "offline", {"ar": Qualification.SWORN}, online=False, gender=Gender.FEMALE)
    await add_interpreter(db, "away", {"ar": Qualification.SWORN}, wants_offers=False,
                          status=InterpreterStatus.AWAY, gender=Gender.FEMALE)
    await add_interpreter(db, "busy", {"ar": Qualification.SWORN}, status=InterpreterStatus.IN_SESSION,
                          gender=Gender.FEMALE)
    await add_interpreter(db, "tired", {"ar": Qualification.SWORN}, minutes_since_break=95,
                          max_session_minutes=90, gender=Gender.FEMALE)
    await add_interpreter(db, "male", {"ar": Qualification.SWORN}, gender=Gender.MALE)
    await add_interpreter(db, "trained", {"ar": Qualification.TRAINED}, gender=Gender.FEMALE)
    await add_interpreter(db, "persian", {"fa": Qualification.SWORN}, gender=Gender.FEMALE)
    good = await add_interpreter(db, "good", {"ar": Qualification.CERTIFIED}, gender=Gender.FEMALE)
    request = await create(db, world, ring, rt, wish_gender="female", wish_qualification="certified")
    assert [o.interpreter_id for o in await pending(db, request.id)] == [good.id]
    assert request.wish_qualification is QualificationWish.CERTIFIED


async def test_timeout_cascades_and_three_misses_switch_to_away(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """Expired offers cascade; the third consecutive miss sets the interpreter away with a notice."""
    sleepy = await add_interpreter(db, "sleepy", idle_minutes=60, missed_offers=2)
    backup = await add_interpreter(db, "backup", idle_minutes=1)
    request = await create(db, world, seq, rt)
    [offer] = await pending(db, request.id)
    assert offer.interpreter_id == sleepy.id
    dispatcher = Dispatcher(sessionmaker=sessionmaker, settings=seq, rt=rt)
    await db.execute(Offer.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    await dispatcher.run_once(queue=False)
    [next_offer] = await pending(db, request.id)
    assert next_offer.interpreter_id == backup.id
    profile = await db.get(InterpreterProfile, sleepy.id, populate_existing=True)
    assert profile is not None and profile.status is InterpreterStatus.AWAY and not profile.wants_offers
    assert rt.of(sleepy.id, "interpreter-status")[-1]["reason"] == "missed_offers"
    await check_invariants(db)


async def test_max_wait_makes_request_unfilled_with_one_ledger_row(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """After the maximum wait the request is unfilled, offers revoked, caseworker offered alternatives."""
    interpreter = await add_interpreter(db, "slow")
    request = await create(db, world, seq, rt)
    await db.execute(InterpretingRequest.__table__.update().values(deadline_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    dispatcher = Dispatcher(sessionmaker=sessionmaker, settings=seq, rt=rt)
    await dispatcher.run_once(queue=False)
    await dispatcher.run_once(queue=True)
    row = await db.get(InterpretingRequest, request.id, populate_existing=True)
    assert row is not None and row.status is RequestStatus.UNFILLED
    told = rt.of(world.users["caseworker_a"].id, "request-status")[-1]
    assert told["status"] == "unfilled" and told["options"] == ["booking", "callback"]
    assert rt.of(interpreter.id, "offer-revoked")[0]["reason"] == "unfilled"
    [entry] = (await db.execute(select(LedgerEntry))).scalars().all()
    assert entry.outcome is LedgerOutcome.UNFILLED and entry.request_id == request.id
    await check_invariants(db)


async def test_end_call_wraps_up_then_available_and_writes_ledger(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """End of call: completed, room closed, ledger row with talk time, wrap-up, then available."""
    interpreter = await add_interpreter(db, "talker")
    request = await create(db, world, seq, rt)
    [offer] = await pending(db, request.id)
    _o, _r, call = await offers.accept(db=db, offer_id=offer.id, user=interpreter, settings=seq, now=utcnow())
    await run_effects(db, rt)
    caseworker = world.users["caseworker_a"]
    await request_service.mark_connected(db=db, user=caseworker, request_id=request.id,
                                         now=utcnow() - timedelta(minutes=5))
    await run_effects(db, rt)
    ended = await request_service.end_call(db=db, user=interpreter, request_id=request.id, settings=seq,
                                           now=utcnow())
    await run_effects(db, rt)
    assert ended.status is RequestStatus.COMPLETED and call.id in rt.closed
    entry = (await db.execute(select(LedgerEntry))).scalar_one()
    assert entry.outcome is LedgerOutcome.COMPLETED and entry.talk_seconds >= 299
    assert entry.interpreter_id == interpreter.id
    profile = await db.get(InterpreterProfile, interpreter.id, populate_existing=True)
    assert profile is not None and profile.status is InterpreterStatus.WRAP_UP
    again = await request_service.end_call(db=db, user=caseworker, request_id=request.id, settings=seq, now=utcnow())
    assert again.status is RequestStatus.COMPLETED  # the second "end" is harmless
    await db.commit()
    await db.execute(InterpreterProfile.__table__.update().values(
        status_changed_at=utcnow() - timedelta(seconds=31)))
    await db.commit()
    await Dispatcher(sessionmaker=sessionmaker, settings=seq, rt=rt).run_once(queue=False)
    profile = await db.get(InterpreterProfile, interpreter.id, populate_existing=True)
    assert profile is not None and profile.status is InterpreterStatus.AVAILABLE
    await check_invariants(db)


async def test_callback_rings_back_when_an_interpreter_comes_online(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """A caseworker who chose a callback is told and dispatched with priority once someone is free."""
    sleeper = await add_interpreter(db, "sleeper", online=False)
    request = await create(db, world, seq, rt)
    assert request.status is RequestStatus.QUEUED
    caseworker = world.users["caseworker_a"]
    await request_service.callback(db=db, user=caseworker, request_id=request.id, now=utcnow())
    await run_effects(db, rt)
    await interpreter_status.set_online(db=db, user_id=sleeper.id, online=True, settings=seq, now=utcnow())
    await run_effects(db, rt)
    await Dispatcher(sessionmaker=sessionmaker, settings=seq, rt=rt).run_once(queue=True)
    assert rt.of(caseworker.id, "callback-ready")
    [offer] = await pending(db, request.id)
    assert offer.interpreter_id == sleeper.id
    await check_invariants(db)


async def test_going_away_or_offline_withdraws_the_pending_offer(
        db: AsyncSession, world: World, seq: Settings, rt: RecordingRealtime) -> None:
    """An interpreter switching away (or dropping offline) loses the offer; the next one gets it."""
    first = await add_interpreter(db, "first", idle_minutes=30)
    second = await add_interpreter(db, "second", idle_minutes=20)
    third = await add_interpreter(db, "third", idle_minutes=10)
    request = await create(db, world, seq, rt)
    await interpreter_status.set_status(db=db, user_id=first.id, choice=StatusChoice.AWAY, settings=seq, now=utcnow())
    await run_effects(db, rt)
    assert [o.interpreter_id for o in await pending(db, request.id)] == [second.id]
    await interpreter_status.set_online(db=db, user_id=second.id, online=False, settings=seq, now=utcnow())
    await run_effects(db, rt)
    assert [o.interpreter_id for o in await pending(db, request.id)] == [third.id]
    statuses = {u.id: (await db.get(InterpreterProfile, u.id, populate_existing=True)) for u in (first, second)}
    assert statuses[first.id].status is InterpreterStatus.AWAY  # type: ignore[union-attr]
    assert statuses[second.id].status is InterpreterStatus.OFFLINE  # type: ignore[union-attr]
    await check_invariants(db)


async def test_restart_recovery_expires_overdue_offers_and_requeues(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """On start-up presence is forgotten, overdue offers expire and the request waits queued again."""
    interpreter = await add_interpreter(db, "gone")
    request = await create(db, world, seq, rt)
    await db.execute(Offer.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    await Dispatcher(sessionmaker=sessionmaker, settings=seq, rt=rt).recover()
    row = await db.get(InterpretingRequest, request.id, populate_existing=True)
    profile = await db.get(InterpreterProfile, interpreter.id, populate_existing=True)
    assert row is not None and row.status is RequestStatus.QUEUED
    assert profile is not None and not profile.online and profile.status is InterpreterStatus.OFFLINE
    await check_invariants(db)
    assert isinstance(world.users["caseworker_a"], User)


async def _last_status(db: AsyncSession, user_id: int) -> InterpreterStatus:
    await db.rollback()
    profile = await db.get(InterpreterProfile, user_id, populate_existing=True)
    assert profile is not None
    return profile.status


async def test_every_status_change_reaches_the_console_as_the_status_the_server_holds(
        db: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], world: World, seq: Settings,
        rt: RecordingRealtime) -> None:
    """Offer, decline, accept, end and the end of wrap-up each tell the interpreter the status in the database."""
    ring = seq.model_copy(update={"dispatch_strategy": DispatchStrategy.RING, "ring_size": 2})
    first = await add_interpreter(db, "first", idle_minutes=30)
    second = await add_interpreter(db, "second", idle_minutes=20)
    caseworker_id = world.users["caseworker_a"].id

    def told(user: User) -> str:
        return str(rt.of(user.id, "interpreter-status")[-1]["status"])

    request = await create(db, world, ring, rt)
    for person in (first, second):
        assert told(person) == "offered" == (await _last_status(db, person.id)).value
    offer = next(o for o in await pending(db, request.id) if o.interpreter_id == first.id)
    await offers.accept(db=db, offer_id=offer.id, user=first, settings=ring, now=utcnow())
    await run_effects(db, rt)
    assert told(first) == "in_session" == (await _last_status(db, first.id)).value
    assert told(second) == "available" == (await _last_status(db, second.id)).value

    caseworker = await db.get(User, caseworker_id)
    assert caseworker is not None
    await request_service.end_call(db=db, user=caseworker, request_id=request.id, settings=ring,
                                   now=utcnow())
    await run_effects(db, rt)
    assert told(first) == "wrap_up" == (await _last_status(db, first.id)).value
    await interpreter_status.sweep_wrap_up(db=db, settings=ring, now=utcnow() + timedelta(seconds=31))
    await run_effects(db, rt)
    last = rt.of(first.id, "interpreter-status")[-1]
    assert last["status"] == "available" == (await _last_status(db, first.id)).value
    assert last["reason"] == "wrap_up_over"
