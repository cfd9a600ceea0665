"""Interpreter status and presence: available / away by choice, online from the signalling socket.

`online` comes from the hub (a socket is open, or closed less than the grace period ago);
`wants_offers` is the interpreter's switch. The operative `status` follows from both unless
an offer or a session holds it (`offered`, `in_session`, `wrap_up`). A presence interval is
kept while an interpreter serves (online and wanting offers) for planning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.enums import InterpreterStatus
from broker.interpreter.idle import IDLE_STATUS, idle_status
from broker.interpreter.models import InterpreterProfile, PresenceInterval
from broker.interpreter.schemas import StatusChoice
from broker.live import effects
from broker.request import service as request_service

IDLE = (InterpreterStatus.AVAILABLE, InterpreterStatus.AWAY, InterpreterStatus.OFFLINE)
OFFLINE_WHEN_GONE = [InterpreterStatus.AVAILABLE.value, InterpreterStatus.AWAY.value]


async def _locked_profile(db: AsyncSession, user_id: int) -> InterpreterProfile | None:
    stmt = (select(InterpreterProfile).where(InterpreterProfile.user_id == user_id)
            .with_for_update().execution_options(populate_existing=True))
    return (await db.execute(stmt)).scalar_one_or_none()


async def _track(db: AsyncSession, profile: InterpreterProfile, now: datetime) -> None:
    """Open or close the serving interval so history matches the current state."""
    serving = profile.online and profile.wants_offers
    stmt = select(PresenceInterval).where(PresenceInterval.interpreter_id == profile.user_id,
                                          PresenceInterval.ended_at.is_(None))
    open_interval = (await db.execute(stmt)).scalars().first()
    if serving and open_interval is None:
        db.add(PresenceInterval(interpreter_id=profile.user_id, status=InterpreterStatus.AVAILABLE,
                                started_at=now))
    elif not serving and open_interval is not None:
        open_interval.ended_at = now
    await db.flush()


def _settle(db: AsyncSession, profile: InterpreterProfile, now: datetime) -> None:
    """An idle interpreter's status follows presence and choice; becoming available wakes dispatch."""
    if profile.status not in IDLE:
        return
    target = idle_status(profile)
    if target is profile.status:
        return
    profile.status = target
    profile.status_changed_at = now
    if target is InterpreterStatus.AVAILABLE:
        profile.idle_since = now
        effects.pending(db).wake = True
    effects.notify(db, profile.user_id, {"type": "interpreter-status", "status": target.value})


async def set_online(*, db: AsyncSession, user_id: int, online: bool, settings: Settings,
                     now: datetime) -> InterpreterProfile | None:
    """The hub saw the interpreter's first socket open, or the last one gone for the grace period."""
    if not online:
        # Lock order: request (inside the revoke) before profile.
        await request_service.withdraw_offers_of(db=db, interpreter_id=user_id, settings=settings, now=now,
                                                 reason="offline")
    profile = await _locked_profile(db, user_id)
    if profile is None:
        return None
    profile.online = online
    if online:
        profile.presence_seen_at = now
    if not online:
        profile.minutes_since_break = 0
    _settle(db, profile, now)
    await db.flush()
    await _track(db, profile, now)
    return profile


async def set_status(*, db: AsyncSession, user_id: int, choice: StatusChoice, settings: Settings,
                     now: datetime) -> InterpreterProfile | None:
    """The interpreter's switch. Away withdraws a pending offer and counts as a break."""
    if choice is StatusChoice.AWAY:
        await request_service.withdraw_offers_of(db=db, interpreter_id=user_id, settings=settings, now=now,
                                                 reason="away")
    profile = await _locked_profile(db, user_id)
    if profile is None:
        return None
    profile.wants_offers = choice is StatusChoice.AVAILABLE
    profile.missed_offers = 0
    if choice is StatusChoice.AWAY:
        profile.minutes_since_break = 0
    _settle(db, profile, now)
    await db.flush()
    await _track(db, profile, now)
    return profile


async def end_wrap_up(*, db: AsyncSession, user_id: int, now: datetime) -> InterpreterProfile | None:
    """End the wrap-up early (ready for the next offer)."""
    profile = await _locked_profile(db, user_id)
    if profile is None:
        return None
    if profile.status is InterpreterStatus.WRAP_UP:
        profile.status = idle_status(profile)
        profile.status_changed_at = profile.idle_since = now
        if profile.status is InterpreterStatus.AVAILABLE:
            effects.pending(db).wake = True
        effects.notify(db, profile.user_id, {"type": "interpreter-status", "status": profile.status.value})
        await db.flush()
    return profile


async def sweep_wrap_up(*, db: AsyncSession, settings: Settings, now: datetime) -> list[int]:
    """Interpreters whose wrap-up time is over become available (or away / offline) again."""
    cutoff = now - timedelta(seconds=settings.wrap_up_seconds)
    stmt = (select(InterpreterProfile.user_id)
            .where(InterpreterProfile.status == InterpreterStatus.WRAP_UP,
                   InterpreterProfile.status_changed_at <= cutoff)
            .with_for_update(skip_locked=True))
    ids = list((await db.execute(stmt)).scalars())
    if ids:
        done = await db.execute(update(InterpreterProfile)
                                .where(InterpreterProfile.user_id.in_(ids),
                                       InterpreterProfile.status == InterpreterStatus.WRAP_UP)
                                .values(status=IDLE_STATUS, status_changed_at=now, idle_since=now)
                                .returning(InterpreterProfile.user_id, InterpreterProfile.status)
                                .execution_options(synchronize_session=False))
        # The status the row now holds, so the console shows exactly what dispatch will see.
        for user_id, status in done.all():
            effects.notify(db, user_id, {"type": "interpreter-status", "status": InterpreterStatus(status).value,
                                          "reason": "wrap_up_over"})
        effects.pending(db).wake = True
    return ids


async def forget_presence(*, db: AsyncSession, now: datetime) -> int:
    """At start-up of the only instance: no socket is open yet, so nobody is online."""
    await db.execute(update(PresenceInterval).where(PresenceInterval.ended_at.is_(None))
                     .values(ended_at=now).execution_options(synchronize_session=False))
    result = await db.execute(
        update(InterpreterProfile).where(InterpreterProfile.online.is_(True))
        .values(online=False, status=case((InterpreterProfile.status.in_(OFFLINE_WHEN_GONE),
                                           InterpreterStatus.OFFLINE.value), else_=InterpreterProfile.status))
        .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
