"""Timed dispatch work: offer time-outs, maximum waits, wrap-up ends, callbacks, the queue,
and calls whose room stayed empty (abandoned).

Deadlines live in the database, so this loop holds no state a crash could lose: on start-up
it runs everything once (expired offers expire, queued requests are offered again). Each job
is a plain function of ids in its own short transaction; the wrapper commits or rolls back,
logs, and publishes the events. Several processes may run the loop at once: every job locks
its request (skipping rows another process holds) and re-checks before it changes anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import bindparam, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.call.models import Call
from broker.config import Settings
from broker.database import UTCDateTime, utcnow
from broker.enums import InterpreterStatus, OfferStatus, RequestMode, RequestStatus
from broker.interpreter import status as interpreter_status
from broker.interpreter.models import InterpreterProfile
from broker.live.effects import Realtime
from broker.live.runtime import Runtime
from broker.live.unit import bind
from broker.request import dispatch, lifecycle, offers, replay
from broker.request import service as request_service
from broker.request.models import InterpretingRequest, Offer

log = logging.getLogger(__name__)
BATCH = 200
QUEUE_SWEEP_SECONDS = 1.0
WAKE_DEBOUNCE_SECONDS = 0.05

Job = Callable[[AsyncSession], Awaitable[Any]]
WORK_KINDS = ("due", "late", "wrapped", "callback", "queued")
ABANDON_SWEEP_MAX_SECONDS = 10.0
# Calls in progress with a live room: the abandoned sweep asks the hub whether anyone is in it.
_IN_CALL_ROOMS = (select(InterpretingRequest.id, Call.id)
                  .join(Call, Call.request_id == InterpretingRequest.id)
                  .where(InterpretingRequest.status.in_(lifecycle.IN_CALL), Call.ended_at.is_(None)))


@lru_cache(maxsize=2)
def _work_query(queue: bool) -> Any:
    """Every kind of due work in one round trip (UNION ALL of small indexed reads), built once.

    The loop runs several times a second and after every call that frees an interpreter;
    five separate reads per round were a visible share of the server's CPU at 50 requests/s.
    """
    now = bindparam("now", type_=UTCDateTime())
    unordered = literal(0).label("ord")
    parts: list[Any] = [
        select(Offer.request_id.label("item"), unordered).distinct()
        .where(Offer.status == OfferStatus.PENDING, Offer.expires_at <= now).limit(BATCH),
        select(InterpretingRequest.id.label("item"), unordered)
        .where(InterpretingRequest.status.in_(lifecycle.WAITING), InterpretingRequest.deadline_at <= now)
        .limit(BATCH),
        select(InterpreterProfile.user_id.label("item"), unordered)
        .where(InterpreterProfile.status == InterpreterStatus.WRAP_UP,
               InterpreterProfile.status_changed_at <= bindparam("wrap_cutoff", type_=UTCDateTime())).limit(1),
    ]
    if queue:
        oldest_first = (InterpretingRequest.created_at, InterpretingRequest.id)
        urgent_first = (dispatch.URGENT_FIRST, *oldest_first)
        parts += [
            select(InterpretingRequest.id.label("item"), func.row_number().over(order_by=oldest_first).label("ord"))
            .where(InterpretingRequest.status == RequestStatus.CALLBACK,
                   InterpretingRequest.mode == RequestMode.ON_DEMAND)
            .order_by(*oldest_first).limit(BATCH),
            select(InterpretingRequest.id.label("item"), func.row_number().over(order_by=urgent_first).label("ord"))
            .where(InterpretingRequest.status == RequestStatus.QUEUED,
                   InterpretingRequest.mode == RequestMode.ON_DEMAND)
            .order_by(*urgent_first).limit(BATCH),
        ]
    subqueries = [part.subquery(f"w_{kind}") for kind, part in zip(WORK_KINDS, parts, strict=False)]
    return union_all(*(select(literal(kind).label("kind"), sub.c.item, sub.c.ord)
                       for kind, sub in zip(WORK_KINDS, subqueries, strict=False)))


async def expire_offers(db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> int:
    return await offers.expire_due(db=db, request_id=request_id, settings=settings, now=now)


async def give_up(db: AsyncSession, request_id: int, now: datetime) -> bool:
    """The maximum wait is over: the request becomes unfilled (unless someone accepted meanwhile)."""
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None or request.status not in lifecycle.WAITING:
        return False
    if request.deadline_at is None or request.deadline_at > now:
        return False
    await dispatch.finish_unfilled(db=db, request=request, now=now)
    return True


async def ring_back(db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> bool:
    return await request_service.ring_back(db=db, request_id=request_id, settings=settings, now=now)


async def end_abandoned(db: AsyncSession, request_id: int, settings: Settings, now: datetime,
                        vacant_since: datetime) -> bool:
    return await request_service.end_abandoned(db=db, request_id=request_id, settings=settings, now=now,
                                               vacant_since=vacant_since)


async def offer_queued(db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> int:
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None or request.status is not RequestStatus.QUEUED:
        return 0
    return len(await dispatch.dispatch(db=db, request=request, settings=settings, now=now))


class Dispatcher:
    """One per process, started in the app's lifespan."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                 rt: Realtime, single_instance: bool = True, tick_seconds: float = 0.25) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.realtime = rt
        self.single_instance = single_instance
        self.tick_seconds = tick_seconds
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_queue_sweep = 0.0
        self._last_abandon_sweep = 0.0
        # request id -> when its room was first seen empty. Only in memory: after a restart the
        # grace starts again, which delays an end but never ends a call someone is in.
        self._vacant: dict[int, datetime] = {}

    def wake(self) -> None:
        """Something became available: look at the queue and the callbacks now."""
        self._woken.set()

    async def start(self) -> None:
        await self.recover()
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def recover(self) -> None:
        """Start-up: forget presence (single instance), expire what expired, offer the queue again."""
        if self.single_instance:
            await self.job(lambda db: interpreter_status.forget_presence(db=db, now=utcnow()))
        await self.run_once(queue=True)

    async def job(self, body: Job) -> Any:
        """Run one job in its own transaction: commit (which publishes), or roll back and log."""
        async with self.sessionmaker() as db:
            bind(db, self)
            try:
                result = await body(db)
                await db.commit()
                return result
            except Exception:
                await db.rollback()
                log.exception("dispatch job failed")
                return None

    async def presence_changed(self, user_id: int, _online: bool) -> None:
        """Hub presence listener. Re-reads the hub, so late or reordered callbacks still end right."""
        now_online = self.realtime.is_online(user_id)
        await self.job(lambda db: interpreter_status.set_online(db=db, user_id=user_id, online=now_online,
                                                      settings=self.settings, now=utcnow()))

    async def run_once(self, *, queue: bool) -> None:
        """One round: find all work in one statement, then one transaction per item found."""
        now = utcnow()
        params = {"now": now, "wrap_cutoff": now - timedelta(seconds=self.settings.wrap_up_seconds)}
        async with self.sessionmaker() as db:
            rows = (await db.execute(_work_query(queue), params)).all()
            await db.rollback()
        found: dict[str, list[int]] = {kind: [] for kind in WORK_KINDS}
        for kind, item_id, _ord in sorted(rows, key=lambda row: row[2]):  # callbacks and queue in order
            found[kind].append(item_id)
        for rid in found["late"]:
            await self.job(partial(give_up, request_id=rid, now=now))
        for rid in found["due"]:
            await self.job(partial(expire_offers, request_id=rid, settings=self.settings, now=now))
        if found["wrapped"]:
            await self.job(lambda db: interpreter_status.sweep_wrap_up(db=db, settings=self.settings, now=now))
        for rid in found["callback"]:
            await self.job(partial(ring_back, request_id=rid, settings=self.settings, now=now))
        for rid in found["queued"]:
            await self.job(partial(offer_queued, request_id=rid, settings=self.settings, now=now))

    @property
    def abandon_sweep_seconds(self) -> float:
        return min(ABANDON_SWEEP_MAX_SECONDS, self.settings.abandoned_call_minutes * 60 / 5)

    async def sweep_abandoned(self) -> None:
        """End the calls whose room nobody has been connected to for `abandoned_call_minutes`.

        Ended through `request_service.end_abandoned`, the same end as a party's "end call"
        (one way to end a call): the room closes, the ledger gets its row, the interpreter
        goes to wrap-up. The grace runs from the first sweep that saw the room empty, so the
        recorded end is at most one sweep interval after the room really emptied.
        """
        now = utcnow()
        grace = timedelta(minutes=self.settings.abandoned_call_minutes)
        async with self.sessionmaker() as db:
            rows = (await db.execute(_IN_CALL_ROOMS)).all()
            await db.rollback()
        vacant: dict[int, datetime] = {}
        for request_id, room_id in rows:
            try:
                if await self.realtime.room_occupied(room_id):
                    continue
            except Exception:
                log.exception("could not see who is in room of request %s", request_id)
                continue
            since = vacant[request_id] = self._vacant.get(request_id, now)
            if now - since >= grace:
                await self.job(partial(end_abandoned, request_id=request_id, settings=self.settings,
                                       now=now, vacant_since=since))
        self._vacant = vacant

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.tick_seconds)
            woken = self._woken.is_set()
            if woken:  # let a burst of wake-ups (calls ending together) share one round
                await asyncio.sleep(WAKE_DEBOUNCE_SECONDS)
            self._woken.clear()
            sweep = woken or loop.time() - self._last_queue_sweep >= QUEUE_SWEEP_SECONDS
            if sweep:
                self._last_queue_sweep = loop.time()
            try:
                await self.run_once(queue=sweep)
                if loop.time() - self._last_abandon_sweep >= self.abandon_sweep_seconds:
                    self._last_abandon_sweep = loop.time()
                    await self.sweep_abandoned()
            except Exception:
                log.exception("dispatcher tick failed")
                await asyncio.sleep(self.tick_seconds)


async def start(runtime: Runtime) -> None:
    """The process's dispatcher: hub presence and the replay attached, recovery, then the loop."""
    settings = runtime.settings
    dispatcher = Dispatcher(sessionmaker=runtime.sessionmaker, settings=settings, rt=runtime.realtime,
                            single_instance=not settings.redis_url)
    runtime.dispatcher = dispatcher
    if runtime.hub is not None:
        runtime.hub.add_presence_listener(dispatcher.presence_changed)
        runtime.hub.current_state = replay.make_current_state(runtime.sessionmaker, runtime.realtime)
    if settings.scheduler_enabled:  # background work off (tests): call `run_once` by hand
        await dispatcher.start()


async def stop(runtime: Runtime) -> None:
    if runtime.dispatcher is not None:
        await runtime.dispatcher.stop()
