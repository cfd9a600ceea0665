"""Interpreter liveness across instances: a heartbeat in the database, and a sweep for ghosts.

With several instances nobody may simply forget presence at start-up (the others hold
sockets), so before this an interpreter whose instances all died together (SIGKILL, a compose
redeploy) and who did not come back stayed `online` and `available` for ever: dispatch rang
them, and their presence interval stayed open and inflated planning. Now every instance
proves its users alive: every `beat` seconds it stamps `presence_seen_at` for the interpreters
it holds (a socket here, or in their grace period here). Any instance sweeps: an interpreter
marked online whom no instance stamped for the grace period plus two beats, and whom this
instance's hub does not know as online anywhere, goes offline through the normal presence
path (offers revoked, interval closed). An instance judges only after it has itself been up
that long, so users reconnecting after a restart are not swept while they come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.database import utcnow
from broker.interpreter.models import InterpreterProfile
from broker.live.runtime import Runtime

log = logging.getLogger(__name__)


class Holder(Protocol):
    """The hub's view: who is online on this instance, and who anywhere."""

    def local_users(self) -> set[int]: ...

    def is_online(self, user_id: int) -> bool: ...


def beat_seconds(grace: float) -> float:
    return max(0.5, min(5.0, grace / 2))


def stale_after(grace: float) -> float:
    return grace + 2 * beat_seconds(grace)


async def beat(*, db: AsyncSession, user_ids: set[int], now: datetime) -> None:
    """Prove these interpreters alive (one statement for all of them)."""
    if user_ids:
        await db.execute(update(InterpreterProfile).where(InterpreterProfile.user_id.in_(user_ids))
                         .values(presence_seen_at=now).execution_options(synchronize_session=False))


async def ghosts(*, db: AsyncSession, now: datetime, stale_seconds: float) -> list[int]:
    """Interpreters marked online whom no instance proved alive within `stale_seconds`."""
    cutoff = now - timedelta(seconds=stale_seconds)
    stmt = select(InterpreterProfile.user_id).where(
        InterpreterProfile.online.is_(True),
        or_(InterpreterProfile.presence_seen_at.is_(None), InterpreterProfile.presence_seen_at < cutoff))
    return list((await db.execute(stmt)).scalars())


class Liveness:
    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, hub: Holder,
                 gone: Callable[[int, bool], Awaitable[None]]) -> None:
        self.sessionmaker = sessionmaker
        self.hub = hub
        self.gone = gone  # the presence listener: re-reads the hub and sets the interpreter offline
        self.beat = beat_seconds(settings.presence_grace_seconds)
        self.stale = stale_after(settings.presence_grace_seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="interpreter-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def once(self, *, sweep: bool) -> list[int]:
        """One heartbeat, and (when `sweep`) the ghosts it sent offline."""
        now = utcnow()
        async with self.sessionmaker() as db:
            await beat(db=db, user_ids=self.hub.local_users(), now=now)
            found = await ghosts(db=db, now=now, stale_seconds=self.stale) if sweep else []
            await db.commit()
        gone = [user_id for user_id in found if not self.hub.is_online(user_id)]
        for user_id in gone:
            log.warning("interpreter not proven alive by any instance: offline", extra={"user_id": user_id})
            await self.gone(user_id, False)
        return gone

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            try:
                await self.once(sweep=loop.time() - started >= self.stale)
            except Exception:  # the database may be away for a moment; the next beat tries again
                log.warning("liveness heartbeat failed", exc_info=True)
            await asyncio.sleep(self.beat)


async def start(runtime: Runtime) -> None:
    """With several instances (Redis configured): heartbeat and sweep in this process."""
    settings = runtime.settings
    if not settings.redis_url or runtime.hub is None or runtime.dispatcher is None:
        return  # one instance forgets all presence at start-up instead (Dispatcher.recover)
    liveness = Liveness(sessionmaker=runtime.sessionmaker, settings=settings, hub=runtime.hub,
                        gone=runtime.dispatcher.presence_changed)
    liveness.start()
    runtime.liveness = liveness


async def stop(runtime: Runtime) -> None:
    if runtime.liveness is not None:
        await runtime.liveness.stop()
