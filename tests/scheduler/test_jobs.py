"""Booking jobs on a real AsyncIOScheduler: they fire, each exactly once, with competing schedulers."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking.models import BookingJobRun
from broker.booking.scheduled import Job, remind_15m
from broker.database import utcnow
from broker.enums import LedgerOutcome, RequestMode, RequestStatus
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from broker.scheduler.models import Lease
from broker.scheduler.runner import _RUNTIME, LEASE_NAME
from tests.conftest import World
from tests.scheduler.conftest import MakeScheduler, add_booking


async def _wait_for(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _status(sessionmaker: async_sessionmaker[AsyncSession], booking_id: int) -> RequestStatus:
    async with sessionmaker() as db:
        booking = await db.get(InterpretingRequest, booking_id)
        assert booking is not None
        return booking.status


def _kinds(sent: list[tuple[int, dict]]) -> Counter[tuple[int, str, str]]:  # type: ignore[type-arg]
    return Counter((uid, e.get("kind", e["type"]), e.get("reminder", "")) for uid, e in sent
                   if e["type"] in ("booking", "call-join"))


async def test_jobs_fire_once_with_two_competing_schedulers(
        make_scheduler: MakeScheduler, db: AsyncSession, world: World,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Reminders, room opening and the no-show escalation each happen exactly once while two schedulers compete."""
    a, jobs_a, rec_a = await make_scheduler("a")
    b, jobs_b, rec_b = await make_scheduler("b")
    await _wait_for(lambda: asyncio.sleep(0, a.is_leader or b.is_leader))
    booking_id = await add_booking(db, world, utcnow() + timedelta(seconds=4))
    start = utcnow() + timedelta(seconds=4)
    async with sessionmaker() as s:
        booking = await s.get(InterpretingRequest, booking_id)
        assert booking is not None and booking.scheduled_start is not None
        start = booking.scheduled_start
    await jobs_a.schedule(booking_id, start)
    await jobs_b.schedule(booking_id, start)  # the same ids: replaced, not doubled
    await b.remove_job("nothing-here")
    await _wait_for(lambda: _escalated(sessionmaker, booking_id))
    await asyncio.sleep(1.5)  # would a second run happen, it would happen now
    caseworker, interpreter = world.users["caseworker_a"].id, world.users["interpreter"].id
    kinds = _kinds(rec_a.sent + rec_b.sent)
    for user in (caseworker, interpreter):
        assert kinds[(user, "reminder_due", "reminder_24h")] == 1
        assert kinds[(user, "reminder_due", "reminder_15m")] == 1
        assert kinds[(user, "booking_room_open", "")] == 1
        assert kinds[(user, "call-join", "")] == 1
        assert kinds[(user, "no_show_escalated", "")] == 1
    async with sessionmaker() as s:
        runs = (await s.execute(select(BookingJobRun.job).where(BookingJobRun.request_id == booking_id))).scalars()
        assert sorted(runs) == sorted(j.value for j in Job)
        ledger = (await s.execute(select(LedgerEntry.outcome))).scalars().all()
        assert ledger == [LedgerOutcome.ESCALATED]
        pooled = (await s.execute(select(func.count()).select_from(InterpretingRequest).where(
            InterpretingRequest.mode == RequestMode.ON_DEMAND))).scalar_one()
        assert pooled == 1
    assert [j for j in await a.job_ids() if j.startswith(f"booking:{booking_id}:")] == []


async def _escalated(sessionmaker: async_sessionmaker[AsyncSession], booking_id: int) -> bool:
    return await _status(sessionmaker, booking_id) is RequestStatus.ESCALATED


async def test_a_job_fired_twice_at_once_acts_once(
        make_scheduler: MakeScheduler, db: AsyncSession, world: World) -> None:
    """The same reminder run twice concurrently (a re-fire after restart) notifies once."""
    scheduler, _jobs, recorder = await make_scheduler("solo")
    booking_id = await add_booking(db, world, utcnow() + timedelta(hours=2))
    token = _RUNTIME.set(scheduler.runtime)
    try:
        await asyncio.gather(remind_15m(booking_id), remind_15m(booking_id))
        await remind_15m(booking_id)
    finally:
        _RUNTIME.reset(token)
    assert len([e for _, e in recorder.sent if e.get("kind") == "reminder_due"]) == 2  # caseworker + interpreter


async def test_takeover_when_the_holder_stops_renewing(
        make_scheduler: MakeScheduler, db: AsyncSession, world: World,
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """When the leader dies without releasing, the other scheduler takes the lease after expiry and runs its jobs."""
    # A 3 s lease: with the default 1 s, two suites on two cores once delayed a's renewal past
    # its expiry, so b took a lease whose holder was alive (as it should) before a crashed.
    a, jobs_a, rec_a = await make_scheduler("a", lease_seconds=3.0)
    await _wait_for(lambda: asyncio.sleep(0, a.is_leader))
    b, _jobs_b, rec_b = await make_scheduler("b", lease_seconds=3.0)
    await asyncio.sleep(0.5)  # the behaviour under test: b tries for a while and does not take a's lease
    assert a.is_leader and not b.is_leader
    booking_id = await add_booking(db, world, utcnow() + timedelta(seconds=3))
    async with sessionmaker() as s:
        booking = await s.get(InterpretingRequest, booking_id)
        assert booking is not None and booking.scheduled_start is not None
    await jobs_a.schedule(booking_id, booking.scheduled_start)  # outside the read transaction (SQLite)
    await a.stop(release=False)  # a crash: no renewal, no release
    await _wait_for(lambda: asyncio.sleep(0, b.is_leader), timeout=15)
    await _wait_for(lambda: _escalated(sessionmaker, booking_id))
    # caseworker, interpreter and the admin
    assert [e.get("kind") for _, e in rec_b.sent].count("no_show_escalated") == 3
    assert not any(e.get("kind") == "no_show_escalated" for _, e in rec_a.sent)


async def test_follower_takes_the_lease_the_moment_a_dead_holders_lease_expires(
        make_scheduler: MakeScheduler, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """A crashed holder's lease (expiring 1.5 s from now) is taken at its expiry, not on the
    follower's next beat, so a takeover takes at most one lease period after the holder's last
    renewal. A 30 s lease beats every 10 s: waiting for the beat would be 8.5 s late, while the
    bound of 4 s leaves room for a loaded machine (two suites on two cores were 0.3 s late)."""
    async with sessionmaker() as s:
        expires_at = utcnow() + timedelta(seconds=1.5)
        s.add(Lease(name=LEASE_NAME, holder="crashed-holder", expires_at=expires_at))
        await s.commit()
    b, _jobs, _rec = await make_scheduler("b", lease_seconds=30.0)
    await _wait_for(lambda: asyncio.sleep(0, b.is_leader), timeout=15)
    late = (utcnow() - expires_at).total_seconds()
    assert late < 4.0, f"took the lease {late:.2f}s after it expired (the next beat came 8.5 s after it)"
