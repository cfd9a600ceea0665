"""A booking's timed jobs: reminders (24 h and 15 min before), the room opening, the no-show check.

Jobs are plain functions that receive the booking id. One wrapper opens a session, claims the
job in `booking_job_runs` (its primary key lets a job run at most once, however often a
restarted or competing scheduler fires it), runs it, commits or rolls back, logs, and then
publishes the events. The database is the source of truth: whoever takes the scheduler lease
re-creates the jobs of every active booking that have not run yet.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import CursorResult, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import events
from broker.booking import service as booking_service
from broker.booking.models import BookingJobRun
from broker.config import Settings
from broker.database import utcnow
from broker.enums import RequestMode, RequestStatus
from broker.live.runtime import Runtime
from broker.live.unit import bind
from broker.request import lifecycle
from broker.request.models import InterpretingRequest
from broker.scheduler.runner import Scheduler, current_runtime

log = logging.getLogger(__name__)


class Job(StrEnum):
    REMINDER_24H = "reminder_24h"
    REMINDER_15M = "reminder_15m"
    ROOM_OPEN = "room_open"
    NO_SHOW_CHECK = "no_show_check"


REMINDERS = (Job.REMINDER_24H, Job.REMINDER_15M)


@dataclass(frozen=True)
class JobPlan:
    """When each job runs, relative to the booking's start."""

    offsets: dict[Job, timedelta] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> JobPlan:
        return cls({
            Job.REMINDER_24H: -timedelta(hours=24),
            Job.REMINDER_15M: -timedelta(minutes=15),
            Job.ROOM_OPEN: -timedelta(minutes=settings.booking_room_open_minutes),
            Job.NO_SHOW_CHECK: timedelta(minutes=settings.booking_no_show_minutes),
        })

    def run_times(self, start: datetime, *, now: datetime) -> dict[Job, datetime]:
        """Run time per job; a reminder whose time has passed is dropped, other jobs run at once."""
        times = {}
        for job, offset in self.offsets.items():
            when = start + offset
            if job in REMINDERS and when <= now:
                continue
            times[job] = max(when, now)
        return times


def job_id(booking_id: int, job: Job) -> str:
    return f"booking:{booking_id}:{job.value}"


# --- the wrapper ------------------------------------------------------------------------------

Body = Callable[[AsyncSession, InterpretingRequest, Settings], Awaitable[bool]]


async def _claim(db: AsyncSession, booking_id: int, job: Job) -> bool:
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    result = await db.execute(insert(BookingJobRun).values(request_id=booking_id, job=job.value, ran_at=utcnow())
                              .on_conflict_do_nothing())
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def booking_job(job: Job) -> Callable[[Body], Callable[[int], Awaitable[None]]]:
    def decorate(body: Body) -> Callable[[int], Awaitable[None]]:
        @functools.wraps(body)
        async def run(booking_id: int) -> None:
            runtime = current_runtime()
            async with runtime.sessionmaker() as db:
                bind(db, runtime.outlet)
                try:
                    booking = await booking_service.get(db=db, booking_id=booking_id, for_update=True)
                    if booking is None or not await _claim(db, booking_id, job):
                        await db.rollback()
                        log.info("booking %s: %s already ran or booking gone", booking_id, job.value)
                        return
                    acted = await body(db, booking, runtime.settings)
                    await db.commit()
                except Exception:
                    await db.rollback()
                    log.exception("booking %s: job %s failed", booking_id, job.value)
                    raise
            log.info("booking %s: %s ran (%s)", booking_id, job.value, "acted" if acted else "nothing to do")
        return run
    return decorate


async def _remind(db: AsyncSession, booking: InterpretingRequest, job: Job) -> bool:
    assert booking.scheduled_start is not None
    if booking.status not in (RequestStatus.REQUESTED, RequestStatus.ASSIGNED) or booking.scheduled_start <= utcnow():
        return False
    await events.emit(db, events.REMINDER_DUE, booking, [booking.caseworker_id, booking.interpreter_id],
                      extra={"reminder": job.value}, dedupe_key=job_id(booking.id, job))
    return True


@booking_job(Job.REMINDER_24H)
async def remind_24h(db: AsyncSession, booking: InterpretingRequest, _settings: Settings) -> bool:
    """Remind both sides a day before."""
    return await _remind(db, booking, Job.REMINDER_24H)


@booking_job(Job.REMINDER_15M)
async def remind_15m(db: AsyncSession, booking: InterpretingRequest, _settings: Settings) -> bool:
    """Remind both sides a quarter of an hour before."""
    return await _remind(db, booking, Job.REMINDER_15M)


@booking_job(Job.ROOM_OPEN)
async def open_room(db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """Open the call room a few minutes before the start."""
    return await booking_service.open_room(db=db, booking=booking, settings=settings)


@booking_job(Job.NO_SHOW_CHECK)
async def check_no_show(db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """Nobody connected a few minutes after the start: escalate to the on-demand pool."""
    return await booking_service.escalate(db=db, booking=booking, settings=settings)


JOB_FUNCTIONS: dict[Job, Callable[[int], Awaitable[None]]] = {
    Job.REMINDER_24H: remind_24h, Job.REMINDER_15M: remind_15m,
    Job.ROOM_OPEN: open_room, Job.NO_SHOW_CHECK: check_no_show,
}


# --- keeping the job store in step with the bookings ------------------------------------------

class BookingJobs:
    """Adds and removes a booking's jobs; re-creates missing ones when this process leads."""

    def __init__(self, scheduler: Scheduler, plan: JobPlan) -> None:
        self.scheduler = scheduler
        self.plan = plan
        scheduler.add_leader_hook(self.reconcile)

    async def schedule(self, booking_id: int, start: datetime, *, done: frozenset[Job] = frozenset()) -> None:
        for job, when in self.plan.run_times(start, now=utcnow()).items():
            if job not in done:
                await self.scheduler.add_job(JOB_FUNCTIONS[job], job_id=job_id(booking_id, job), run_date=when,
                                             args=(booking_id,))

    async def unschedule(self, booking_id: int) -> None:
        for job in Job:
            await self.scheduler.remove_job(job_id(booking_id, job))

    async def reconcile(self, _scheduler: Scheduler) -> None:
        """Re-create the not-yet-run jobs of every active booking (lost in a crash, or never added)."""
        async with self.scheduler.sessionmaker() as db:
            bookings = (await db.execute(select(InterpretingRequest.id, InterpretingRequest.scheduled_start).where(
                InterpretingRequest.mode == RequestMode.BOOKED,
                InterpretingRequest.status.in_(lifecycle.BOOKING_ACTIVE)))).all()
            ran: dict[int, set[Job]] = {}
            for request_id, name in (await db.execute(select(BookingJobRun.request_id, BookingJobRun.job).where(
                    BookingJobRun.request_id.in_([b[0] for b in bookings])))).all():
                ran.setdefault(request_id, set()).add(Job(name))
        existing = set(await self.scheduler.job_ids())
        added = 0
        for booking_id, start in bookings:
            assert start is not None
            done = frozenset(ran.get(booking_id, set()) | {j for j in Job if job_id(booking_id, j) in existing})
            if len(done) < len(Job):
                await self.schedule(booking_id, start, done=done)
                added += 1
        log.info("scheduler: %d active bookings, jobs re-created for %d", len(bookings), added)


async def start(runtime: Runtime) -> None:
    """Keep the bookings' jobs on this process's scheduler (when it runs one)."""
    if runtime.scheduler is not None:
        runtime.booking_jobs = BookingJobs(runtime.scheduler, JobPlan.from_settings(runtime.settings))


async def stop(runtime: Runtime) -> None:
    runtime.booking_jobs = None
