"""What retention removes, and what it keeps.

Removed once older than the cutoff (`now - retention_days`):
- request notes (free text a caseworker may have typed about the case) — set to NULL;
- audit details (JSON that may name people) — set to NULL; the audit row itself (who did
  which admin action when, on which object id) stays, because accountability for admin
  actions outlives operational detail;
- closed presence history intervals (ended before the cutoff);
- idempotency keys (stored responses of create/accept calls);
- auth sessions that expired before the cutoff;
- outbox mails that were sent (sent before the cutoff) or gave up (failed, created before);
- sign-in throttle counters quiet for longer than their window (`login_window_seconds`): the
  throttle has forgotten them already, and a source counter's key holds a client address, which
  must not outlive its use.

Never touched: the pseudonymous usage ledger, requests and offers themselves, pending mail,
open presence intervals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit.models import AuditEntry
from broker.auth.models import AuthSession, LoginCounter
from broker.database import utcnow
from broker.enums import OutboxStatus
from broker.interpreter.models import PresenceInterval
from broker.notification.models import OutboxMessage
from broker.request.models import IdempotencyKey, InterpretingRequest


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime
    request_notes: int
    audit_details: int
    presence_intervals: int
    idempotency_keys: int
    auth_sessions: int
    outbox_messages: int
    login_counters: int = 0

    def as_log(self) -> dict[str, Any]:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        return data

    @property
    def total(self) -> int:
        return (self.request_notes + self.audit_details + self.presence_intervals + self.idempotency_keys
                + self.auth_sessions + self.outbox_messages + self.login_counters)


def cutoff_for(*, days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)


async def _rows(db: AsyncSession, stmt: Any) -> int:
    result = await db.execute(stmt.execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


async def purge(*, db: AsyncSession, days: int, now: datetime | None = None,
                login_window_seconds: float = 900.0) -> RetentionReport:
    """Remove operational data older than `days` (throttle counters: quiet for a window); the caller commits."""
    now = now or utcnow()
    cutoff = cutoff_for(days=days, now=now)
    notes = await _rows(db, update(InterpretingRequest)
                        .where(InterpretingRequest.created_at < cutoff, InterpretingRequest.note.is_not(None))
                        .values(note=None))
    details = await _rows(db, update(AuditEntry)
                          .where(AuditEntry.at < cutoff, AuditEntry.details.is_not(None))
                          .values(details=None))
    presence = await _rows(db, delete(PresenceInterval).where(
        PresenceInterval.ended_at.is_not(None), PresenceInterval.ended_at < cutoff))
    keys = await _rows(db, delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    sessions = await _rows(db, delete(AuthSession).where(AuthSession.expires_at < cutoff))
    outbox = await _rows(db, delete(OutboxMessage).where(or_(
        and_(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at < cutoff),
        and_(OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.created_at < cutoff),
    )))
    counters = await _rows(db, delete(LoginCounter).where(
        LoginCounter.last_attempt_at < now - timedelta(seconds=login_window_seconds)))
    return RetentionReport(cutoff=cutoff, request_notes=notes, audit_details=details,
                           presence_intervals=presence, idempotency_keys=keys, auth_sessions=sessions,
                           outbox_messages=outbox, login_counters=counters)
