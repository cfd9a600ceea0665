"""SIGKILL a real `videodolmetschen serve` while a booking's room is open; the restart runs each job once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking.models import BookingJobRun
from broker.config import Settings
from broker.database import utcnow
from broker.enums import LedgerOutcome, RequestMode, RequestStatus
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from tests.conftest import LOADED_MACHINE_TIMEOUT, World, free_port
from tests.scheduler.conftest import add_booking
from tests.waiting import eventually

CLI = Path(sys.executable).with_name("videodolmetschen")


def _serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VD_DATABASE_URL": settings.database_url, "VD_SECRET_KEY": settings.secret_key,
           "VD_ENVIRONMENT": "test", "VD_SCHEDULER_ENABLED": "true", "VD_SCHEDULER_LEASE_SECONDS": "2",
           "VD_BOOKING_NO_SHOW_MINUTES": "1", "VD_BOOKING_ROOM_OPEN_MINUTES": "10"}
    return subprocess.Popen([str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def _up(port: int) -> None:
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT) as client:

        async def answers() -> bool:
            try:
                return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code < 500
            except httpx.HTTPError:
                return False

        # A loaded machine (two test runs at once) needs half a minute to start a server.
        await eventually(answers, timeout=120, message="server did not start")


async def _ran(sessionmaker: async_sessionmaker[AsyncSession], booking_id: int) -> set[str]:
    async with sessionmaker() as db:
        return set((await db.execute(select(BookingJobRun.job).where(
            BookingJobRun.request_id == booking_id))).scalars())


@pytest.mark.slow
async def test_sigkill_while_room_open_then_restart_runs_jobs_once(
        settings: Settings, db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
        tmp_path: Path) -> None:
    """A server killed with the room open lets its lease expire; the successor escalates the no-show once."""
    booking_id = await add_booking(db, world, utcnow() + timedelta(seconds=5))
    port = free_port()
    log = tmp_path / "serve.log"
    first = _serve(settings, port, log)
    try:
        await _up(port)
        for _ in range(150):  # the leader re-creates the booking's jobs; the room opens at once
            if "room_open" in await _ran(sessionmaker, booking_id):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"room never opened:\n{log.read_text()}")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    second = _serve(settings, port, log)
    try:
        await _up(port)
        for _ in range(900):  # no-show check at start + 1 min
            async with sessionmaker() as s:
                booking = await s.get(InterpretingRequest, booking_id)
                assert booking is not None
                if booking.status is RequestStatus.ESCALATED:
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"never escalated:\n{log.read_text()}")
        await asyncio.sleep(3)  # a second run, were there one, would show now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert await _ran(sessionmaker, booking_id) == {"room_open", "no_show_check"}  # reminders were past
    async with sessionmaker() as s:
        assert (await s.execute(select(LedgerEntry.outcome))).scalars().all() == [LedgerOutcome.ESCALATED]
        pooled = (await s.execute(select(func.count()).select_from(InterpretingRequest).where(
            InterpretingRequest.mode == RequestMode.ON_DEMAND))).scalar_one()
        assert pooled == 1
    assert log.read_text().count(f"booking {booking_id}: no_show_check ran") == 1
