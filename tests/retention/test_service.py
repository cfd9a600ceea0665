"""Retention removes exactly the operational data older than the setting; the ledger stays."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit.models import AuditEntry
from broker.auth.models import AuthSession, LoginCounter
from broker.database import utcnow
from broker.enums import (
    InterpreterStatus,
    LedgerOutcome,
    Media,
    OfficeKind,
    OutboxStatus,
    RequestMode,
    RequestStatus,
)
from broker.interpreter.models import PresenceInterval
from broker.ledger.models import LedgerEntry
from broker.notification.models import OutboxMessage
from broker.request.models import IdempotencyKey, InterpretingRequest
from broker.retention import service as retention_service
from tests.conftest import World

NOW = utcnow().replace(microsecond=0)
OLD = NOW - timedelta(days=91)
RECENT = NOW - timedelta(days=89)


async def _seed(db: AsyncSession, world: World) -> None:
    caseworker = world.users["caseworker_a"]
    interpreter = world.users["interpreter"]
    for when, tag in ((OLD, "old"), (RECENT, "recent")):
        request = InterpretingRequest(
            office_id=world.office_a.id, caseworker_id=caseworker.id, language_code="ar",
            purpose="other", mode=RequestMode.ON_DEMAND, status=RequestStatus.COMPLETED,
            created_at=when, note=f"{tag} note")
        db.add(request)
        await db.flush()
        db.add(LedgerEntry(
            request_id=request.id, office_id=world.office_a.id, office_kind=OfficeKind.IMMIGRATION_OFFICE,
            district_ags="16051", language_code="ar", purpose="other", mode=RequestMode.ON_DEMAND,
            media=Media.VIDEO, requested_at=when, wait_seconds=12, talk_seconds=300,
            outcome=LedgerOutcome.COMPLETED, interpreter_id=interpreter.id))
        db.add(AuditEntry(at=when, actor_id=world.users["admin"].id, action="user.update",
                          object_type="user", object_id=str(caseworker.id), details=f'{{"tag": "{tag}"}}'))
        db.add(PresenceInterval(interpreter_id=interpreter.id, status=InterpreterStatus.AVAILABLE,
                                started_at=when - timedelta(hours=1), ended_at=when))
        db.add(IdempotencyKey(user_id=caseworker.id, scope="request.create", key=tag, body_hash="0" * 64,
                              status_code=201, response_body="{}", created_at=when))
        db.add(AuthSession(token_hash=f"{tag:0<64}", user_id=caseworker.id, kind="cookie",
                           created_at=when - timedelta(hours=12), expires_at=when))
        for status in (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.PENDING):
            db.add(OutboxMessage(user_id=interpreter.id, kind="booking_reminder", payload="{}", status=status,
                                 created_at=when, next_attempt_at=when,
                                 sent_at=when if status is OutboxStatus.SENT else None,
                                 dedupe_key=f"{tag}-{status.value}"))
    # Throttle counters: one quiet for longer than the window (forgotten), one counting now.
    db.add(LoginCounter(key="source:192.0.2.7", attempts=3, last_attempt_at=NOW - timedelta(seconds=901),
                        next_allowed_at=NOW - timedelta(seconds=900)))
    db.add(LoginCounter(key="account:someone", attempts=2, last_attempt_at=NOW - timedelta(seconds=60),
                        next_allowed_at=NOW))
    # An open presence interval that began long ago is still running: it stays.
    db.add(PresenceInterval(interpreter_id=interpreter.id, status=InterpreterStatus.AVAILABLE,
                            started_at=OLD - timedelta(days=1), ended_at=None))
    await db.commit()


async def _count(db: AsyncSession, stmt: object) -> int:
    return int((await db.execute(stmt)).scalar_one())  # type: ignore[call-overload]


async def test_purge_removes_exactly_the_old_operational_data(db: AsyncSession, world: World) -> None:
    """Old notes, audit details, closed presence, keys, sessions, finished mail and quiet throttle
    counters (they hold client addresses) go; the rest stays."""
    await _seed(db, world)
    sessions_before = await _count(db, select(func.count()).select_from(AuthSession))
    report = await retention_service.purge(db=db, days=90, now=NOW)
    await db.commit()
    assert (report.request_notes, report.audit_details, report.presence_intervals, report.idempotency_keys,
            report.auth_sessions, report.outbox_messages, report.login_counters) == (1, 1, 1, 1, 1, 2, 1)
    assert report.cutoff == NOW - timedelta(days=90)

    notes = (await db.execute(select(InterpretingRequest.note).order_by(InterpretingRequest.created_at))).scalars()
    assert list(notes) == [None, "recent note"]
    audit = (await db.execute(select(AuditEntry.at, AuditEntry.details).order_by(AuditEntry.at))).all()
    assert [d for _, d in audit] == [None, '{"tag": "recent"}'], "old audit rows stay, without details"
    presence = (await db.execute(select(PresenceInterval.ended_at))).scalars().all()
    assert len(presence) == 2 and None in presence
    keys = (await db.execute(select(IdempotencyKey.key))).scalars().all()
    assert keys == ["recent"]
    assert await _count(db, select(func.count()).select_from(AuthSession)) == sessions_before - 1
    outbox = sorted((await db.execute(select(OutboxMessage.dedupe_key))).scalars().all())
    assert outbox == ["old-pending", "recent-failed", "recent-pending", "recent-sent"]
    assert await _count(db, select(func.count()).select_from(LedgerEntry)) == 2, "the ledger stays"
    assert (await db.execute(select(LoginCounter.key))).scalars().all() == ["account:someone"]


async def test_purge_twice_removes_nothing_more(db: AsyncSession, world: World) -> None:
    """A second run on the same day finds nothing left to remove (the job is idempotent)."""
    await _seed(db, world)
    await retention_service.purge(db=db, days=90, now=NOW)
    await db.commit()
    again = await retention_service.purge(db=db, days=90, now=NOW)
    await db.commit()
    assert again.total == 0


async def test_rollback_keeps_everything(db: AsyncSession, world: World) -> None:
    """The service only flushes: the caller's rollback undoes the purge."""
    await _seed(db, world)
    await retention_service.purge(db=db, days=90, now=NOW)
    await db.rollback()
    assert await _count(db, select(func.count()).select_from(IdempotencyKey)) == 2


def test_cutoff_is_days_before_now() -> None:
    """The cutoff is exactly `days` before now."""
    now = datetime(2026, 3, 1, 12, 0)
    assert retention_service.cutoff_for(days=90, now=now) == now - timedelta(days=90)
