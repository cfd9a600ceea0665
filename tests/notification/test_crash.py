"""A real sender process (`python -m broker.notification.sender`) killed with SIGKILL and restarted.

Delivery is at least once: nothing committed is ever lost; the one duplicate that cannot be
avoided (the server accepted the mail, the process died before recording it) is re-sent with
the same Message-ID, so receivers can recognise it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.enums import OutboxStatus
from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from broker.notification.models import OutboxMessage
from tests.conftest import World
from tests.notification.conftest import SmtpServer, booking, give_addresses, statuses
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 1.5

pytestmark = pytest.mark.slow


@asynccontextmanager
async def sender_process(settings: Settings, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "VD_DATABASE_URL": settings.database_url, "VD_ENVIRONMENT": "test",
           "VD_SMTP_HOST": settings.smtp_host, "VD_SMTP_PORT": str(settings.smtp_port),
           "VD_SMTP_STARTTLS": "false", "VD_SMTP_SENDER": settings.smtp_sender,
           "VD_PUBLIC_BASE_URL": settings.public_base_url}
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "broker.notification.sender", "--poll-seconds", "0.05",
            "--lease-seconds", str(LEASE_SECONDS), "--backoff-base-seconds", "0.05", "--batch-size", "5",
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    await eventually(condition, timeout=timeout, message="condition not reached in time")


async def sigkill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL


async def enqueue(db: AsyncSession, world: World, n: int) -> list[int]:
    ids = []
    for i in range(n):
        row_id = await notification_service.enqueue(db=db, user_id=world.users["interpreter"].id,
                                                    kind=Kind.BOOKING_CONFIRMED,
                                                    payload=booking(world, booking_id=100 + i))
        assert row_id is not None
        ids.append(row_id)
    await db.commit()  # the event's transaction: from here on the notification must not be lost
    return ids


async def all_sent(sessionmaker: async_sessionmaker[AsyncSession], n: int) -> bool:
    found = await statuses(sessionmaker)
    return len(found) == n and set(found.values()) == {OutboxStatus.SENT}


async def wait_all_sent(sessionmaker: async_sessionmaker[AsyncSession], n: int, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await all_sent(sessionmaker, n):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not all sent: {await statuses(sessionmaker)}")


async def test_sigkill_after_claim_before_send_loses_and_duplicates_nothing(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer, tmp_path: Path,
) -> None:
    """Killed while the server has not yet taken the mail, a restarted sender delivers each once."""
    await give_addresses(db, world)
    ids = await enqueue(db, world, 5)
    smtp.sink.stall = threading.Event()
    async with sender_process(mail_settings, tmp_path / "sender.log") as first:
        await until(smtp.sink.stalled.is_set)
        await sigkill(first)
    async with sessionmaker() as check:
        rows = (await check.execute(select(OutboxMessage))).scalars().all()
    assert all(r.status is OutboxStatus.PENDING for r in rows) and any(r.attempts == 1 for r in rows)
    smtp.sink.stall.set()
    smtp.sink.stall = None
    assert smtp.sink.messages == []
    async with sender_process(mail_settings, tmp_path / "sender.log"):
        await wait_all_sent(sessionmaker, len(ids))
    assert sorted(smtp.sink.by_id().values()) == [1] * len(ids)


async def test_sigkill_after_server_accepted_resends_the_same_message(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer, tmp_path: Path,
) -> None:
    """Killed after the server took a mail but before it was recorded: re-sent once, same Message-ID."""
    await give_addresses(db, world)
    ids = await enqueue(db, world, 3)
    smtp.sink.stall_data = threading.Event()
    async with sender_process(mail_settings, tmp_path / "sender.log") as first:
        await until(smtp.sink.stalled.is_set)
        await sigkill(first)
    smtp.sink.stall_data.set()
    smtp.sink.stall_data = None
    async with sender_process(mail_settings, tmp_path / "sender.log"):
        await wait_all_sent(sessionmaker, len(ids))
    counts = smtp.sink.by_id()
    assert len(counts) == len(ids)
    assert sorted(counts.values()) == [1, 1, 2]  # at least once: the in-flight mail arrives twice
    first_copy, second_copy = [m for m in smtp.sink.messages if counts[m["Message-ID"]] == 2]
    assert first_copy.as_bytes() == second_copy.as_bytes()


async def test_repeated_sigkills_during_a_stream_lose_nothing(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer, tmp_path: Path,
) -> None:
    """Three random SIGKILLs while 25 mails go out: every mail arrives, duplicates at most one per kill."""
    await give_addresses(db, world)
    ids = await enqueue(db, world, 25)
    rng = random.Random(8)
    kills = 0
    for _ in range(3):
        target = len(smtp.sink.messages) + rng.randint(2, 6)
        async with sender_process(mail_settings, tmp_path / "sender.log") as process:
            await until(lambda: len(smtp.sink.messages) >= target)  # noqa: B023 (awaited in the loop)
            await asyncio.sleep(rng.uniform(0, 0.05))  # the behaviour under test: a kill at a random moment
            await sigkill(process)
            kills += 1
    async with sender_process(mail_settings, tmp_path / "sender.log"):
        await wait_all_sent(sessionmaker, len(ids))
    counts = smtp.sink.by_id()
    assert len(counts) == len(ids)
    assert sum(counts.values()) - len(ids) <= kills
