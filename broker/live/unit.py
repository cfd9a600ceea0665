"""The one commit path: a session whose commit publishes what its transaction recorded.

Every session of the app is a `LiveSession` bound to an `Outlet` (the realtime hub and the
dispatcher's wake-up): routes get theirs from `broker.deps.SessionDep`, jobs from
`runtime.sessionmaker` or by `bind`ing one. `await db.commit()` commits and then publishes
the recorded effects before it returns; a rollback (or a failed commit) discards them. So a
route or job cannot commit and silently drop an offer event: committing *is* publishing.

A transaction committed past `LiveSession.commit` (`async with sessionmaker.begin()`) still
publishes: SQLAlchemy's `after_commit` hook hands its effects to a task on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from broker.live.effects import EFFECTS_KEY, Effects, NullRealtime, Realtime, publish

log = logging.getLogger(__name__)
OUTLET_KEY = "vd_outlet"
READY_KEY = "vd_effects_ready"  # committed, not yet published
COMMITTING_KEY = "vd_committing"  # LiveSession.commit publishes itself once the commit returned
_TASKS: set[asyncio.Task[None]] = set()


class Outlet(Protocol):
    """Where committed effects go."""

    @property
    def realtime(self) -> Realtime: ...

    def wake(self) -> None: ...


@dataclass(frozen=True)
class FixedOutlet:
    """An outlet to one realtime target (CLI, tests, a job with its own hub)."""

    realtime: Realtime = field(default_factory=NullRealtime)

    def wake(self) -> None:
        return None


NOWHERE = FixedOutlet()


def bind(db: AsyncSession, outlet: Outlet) -> None:
    """Send this session's committed effects to `outlet` (a sessionmaker may bind all its sessions)."""
    db.info[OUTLET_KEY] = outlet


def outlet_of(db: AsyncSession | Session) -> Outlet:
    found: Outlet | None = db.info.get(OUTLET_KEY)
    return NOWHERE if found is None else found


async def _publish_all(ready: list[Effects], outlet: Outlet) -> None:
    for found in ready:
        await publish(found, outlet.realtime, outlet.wake)


class _SyncLiveSession(Session):
    """The synchronous session under `LiveSession`; the hooks below listen on this class only."""


@event.listens_for(_SyncLiveSession, "after_commit")
def _after_commit(session: Session) -> None:
    found = session.info.pop(EFFECTS_KEY, None)
    if not isinstance(found, Effects):
        return
    session.info.setdefault(READY_KEY, []).append(found)
    if not session.info.get(COMMITTING_KEY):
        _hand_over(session)


@event.listens_for(_SyncLiveSession, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(EFFECTS_KEY, None)


def _hand_over(session: Session) -> None:
    """Publish committed effects from a task (the commit did not come through `LiveSession.commit`)."""
    ready: list[Effects] = session.info.pop(READY_KEY, [])
    if not ready:
        return
    task = asyncio.get_running_loop().create_task(_publish_all(ready, outlet_of(session)), name="publish")
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


class LiveSession(AsyncSession):
    """An `AsyncSession` whose commit publishes the effects its transaction recorded."""

    sync_session_class = _SyncLiveSession

    async def commit(self) -> None:
        """Commit, then publish what the transaction recorded (a failing send is logged, not raised)."""
        self.info[COMMITTING_KEY] = True
        try:
            await super().commit()
        except BaseException:
            self.info.pop(EFFECTS_KEY, None)
            self.info.pop(COMMITTING_KEY, None)
            _hand_over(self.sync_session)  # committed before the failure (rare): still told
            raise
        self.info.pop(COMMITTING_KEY, None)
        ready: list[Effects] = self.info.pop(READY_KEY, [])
        if ready:
            await _publish_all(ready, outlet_of(self))

    async def close(self) -> None:
        self.info.pop(EFFECTS_KEY, None)  # never committed
        await super().close()


def session_options(outlet: Outlet | None = None) -> dict[str, Any]:
    """Keyword arguments for `async_sessionmaker`: live sessions, bound to `outlet` if given."""
    options: dict[str, Any] = {"class_": LiveSession}
    if outlet is not None:
        options["info"] = {OUTLET_KEY: outlet}
    return options
