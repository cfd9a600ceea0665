"""Scheduler fixtures: recording realtime, a compressed job plan, bookings a few seconds ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking.scheduled import BookingJobs, Job, JobPlan
from broker.config import Settings
from broker.database import utcnow
from broker.enums import RequestMode, RequestStatus
from broker.live.effects import NullRealtime
from broker.live.unit import FixedOutlet
from broker.request.models import InterpretingRequest
from broker.scheduler.runner import Scheduler
from tests.conftest import World

# Every job within a few seconds: reminders 3 s and 2 s before, room 1 s before, no-show check 1 s after.
FAST_PLAN = JobPlan({Job.REMINDER_24H: -timedelta(seconds=3), Job.REMINDER_15M: -timedelta(seconds=2),
                     Job.ROOM_OPEN: -timedelta(seconds=1), Job.NO_SHOW_CHECK: timedelta(seconds=1)})


class Recorder(NullRealtime):
    """Realtime that remembers every event sent to a user."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:
        self.sent.append((user_id, event))


async def add_booking(db: AsyncSession, world: World, start: datetime,
                      status: RequestStatus = RequestStatus.ASSIGNED) -> int:
    booking = InterpretingRequest(
        office_id=world.office_a.id, caseworker_id=world.users["caseworker_a"].id, language_code="ar",
        purpose="other", mode=RequestMode.BOOKED, status=status, interpreter_id=world.users["interpreter"].id,
        scheduled_start=start, scheduled_end=start + timedelta(minutes=30), created_at=utcnow())
    db.add(booking)
    await db.commit()
    return booking.id


MakeScheduler = Callable[..., Any]


@pytest.fixture
async def make_scheduler(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
                         ) -> AsyncIterator[MakeScheduler]:
    """Start schedulers on the test database (1 s lease); each returns (scheduler, jobs, recorder)."""
    started: list[Scheduler] = []

    async def make(name: str, lease_seconds: float = 1.0) -> tuple[Scheduler, BookingJobs, Recorder]:
        recorder = Recorder()
        scheduler = Scheduler(settings=settings, sessionmaker=sessionmaker, holder=name,
                              lease_seconds=lease_seconds,
                              outlet=FixedOutlet(recorder))
        jobs = BookingJobs(scheduler, FAST_PLAN)
        await scheduler.start()
        started.append(scheduler)
        return scheduler, jobs, recorder

    yield make
    for scheduler in started:
        try:
            await scheduler.stop()
        except Exception:  # already stopped by the test
            pass
