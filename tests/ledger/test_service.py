"""The ledger writer: one pseudonymous row per finished request, idempotent, unmet demand recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import utcnow
from broker.enums import LedgerOutcome, Media, RequestMode, RequestStatus
from broker.ledger import service as ledger_service
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from tests.conftest import World

# What the ledger may hold: dimensions, times, counts, the interpreter id for pay, the rating.
ALLOWED_COLUMNS = {
    "id", "request_id", "office_id", "office_kind", "district_ags", "language_code", "purpose", "mode",
    "media", "requested_at", "first_offered_at", "accepted_at", "connected_at", "ended_at", "wait_seconds",
    "talk_seconds", "outcome", "offers_made", "interpreter_id", "rating", "problems", "late_cancellation",
    "local_month", "local_how",  # requested_at in local time, for reports
}


async def finished_request(db: AsyncSession, world: World, status: RequestStatus,
                           mode: RequestMode = RequestMode.ON_DEMAND) -> InterpretingRequest:
    now = utcnow()
    request = InterpretingRequest(
        office_id=world.office_a.id, caseworker_id=world.users["caseworker_a"].id, language_code="ar",
        purpose="residence_permit", mode=mode, status=status, created_at=now - timedelta(minutes=30),
        first_offered_at=now - timedelta(minutes=29), accepted_at=now - timedelta(minutes=28),
        connected_at=now - timedelta(minutes=27), ended_at=now - timedelta(minutes=7), offers_made=2,
        interpreter_id=world.users["interpreter"].id, note="Frau Beispiel, Akte 4711",
        scheduled_start=now - timedelta(minutes=30) if mode is RequestMode.BOOKED else None,
        scheduled_end=now if mode is RequestMode.BOOKED else None)
    db.add(request)
    await db.flush()
    return request


async def test_one_row_per_request_and_idempotent(db: AsyncSession, world: World) -> None:
    """Recording a finished request twice returns the first row and writes nothing more."""
    request = await finished_request(db, world, RequestStatus.COMPLETED)
    first = await ledger_service.record_final(db=db, request=request)
    again = await ledger_service.record_final(db=db, request=request)
    await db.commit()
    assert first.id == again.id
    rows = list((await db.execute(select(LedgerEntry))).scalars())
    assert len(rows) == 1
    entry = rows[0]
    assert entry.outcome is LedgerOutcome.COMPLETED and entry.talk_seconds == 20 * 60
    assert entry.wait_seconds == 2 * 60 and entry.offers_made == 2
    assert entry.district_ags == "16051" and entry.office_kind.value == "immigration_office"


async def test_never_personal_data(db: AsyncSession, world: World) -> None:
    """The ledger has no column for names or notes, and the request's note does not leak into it."""
    assert {c.name for c in LedgerEntry.__table__.columns} == ALLOWED_COLUMNS
    request = await finished_request(db, world, RequestStatus.COMPLETED)
    entry = await ledger_service.record_final(db=db, request=request)
    values = [str(getattr(entry, c)) for c in ALLOWED_COLUMNS]
    assert not any("Beispiel" in v or "4711" in v for v in values)


@pytest.mark.parametrize(("status", "outcome"), [
    (RequestStatus.CANCELLED, LedgerOutcome.CANCELLED), (RequestStatus.UNFILLED, LedgerOutcome.UNFILLED),
    (RequestStatus.NO_SHOW, LedgerOutcome.NO_SHOW), (RequestStatus.ESCALATED, LedgerOutcome.ESCALATED),
    (RequestStatus.FAILED, LedgerOutcome.FAILED)])
async def test_outcome_follows_status(db: AsyncSession, world: World, status: RequestStatus,
                                      outcome: LedgerOutcome) -> None:
    """Each final status maps to its outcome; bookings count wait from their scheduled start."""
    request = await finished_request(db, world, status, RequestMode.BOOKED)
    entry = await ledger_service.record_final(db=db, request=request)
    assert entry.outcome is outcome and entry.mode is RequestMode.BOOKED
    assert entry.requested_at == request.scheduled_start


async def test_unfinished_request_is_refused(db: AsyncSession, world: World) -> None:
    """A request that is still waiting has no ledger row yet."""
    request = await finished_request(db, world, RequestStatus.OFFERED)
    with pytest.raises(ValueError, match="not finished"):
        await ledger_service.record_final(db=db, request=request)


async def test_no_interpreter_row_has_no_request(db: AsyncSession, world: World) -> None:
    """Unmet demand refused up front is one row without a request id."""
    entry = await ledger_service.record_no_interpreter(
        db=db, office=world.office_b, language_code="uk", purpose="other", mode=RequestMode.ON_DEMAND,
        media=Media.AUDIO, now=utcnow())
    assert entry.request_id is None and entry.outcome is LedgerOutcome.NO_INTERPRETER
    assert entry.district_ags == "16053"
