"""The usage ledger writer: exactly one pseudonymous row per finished request.

Only dimensions and times are copied (office, district, language, purpose, mode, media,
times, counts, interpreter id for pay, rating). Never a name, a note or anything else that
could identify a client.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import utcnow
from broker.enums import LedgerOutcome, Media, RequestMode, RequestStatus
from broker.ledger.models import LedgerEntry
from broker.office.models import Office
from broker.request.models import InterpretingRequest

OUTCOME_BY_STATUS = {
    RequestStatus.COMPLETED: LedgerOutcome.COMPLETED,
    RequestStatus.CANCELLED: LedgerOutcome.CANCELLED,
    RequestStatus.UNFILLED: LedgerOutcome.UNFILLED,
    RequestStatus.FAILED: LedgerOutcome.FAILED,
    RequestStatus.NO_SHOW: LedgerOutcome.NO_SHOW,
    RequestStatus.ESCALATED: LedgerOutcome.ESCALATED,
}


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


async def get_for_request(*, db: AsyncSession, request_id: int) -> LedgerEntry | None:
    stmt = select(LedgerEntry).where(LedgerEntry.request_id == request_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def record_final(*, db: AsyncSession, request: InterpretingRequest,
                       outcome: LedgerOutcome | None = None) -> LedgerEntry:
    """Write the request's ledger row, or return the one already written (idempotent).

    Call it in the transaction that moved the request into its final status. The outcome
    follows the status unless given. The unique `request_id` makes a concurrent second
    writer fail inside a savepoint, after which the first writer's row is returned.
    """
    existing = await get_for_request(db=db, request_id=request.id)
    if existing is not None:
        return existing
    final_outcome = outcome or OUTCOME_BY_STATUS.get(request.status)
    if final_outcome is None:
        raise ValueError(f"request {request.id} is not finished (status {request.status})")
    office = await db.get(Office, request.office_id)
    assert office is not None
    ended = request.ended_at or utcnow()
    waited_until = request.accepted_at or (None if final_outcome is LedgerOutcome.COMPLETED else ended)
    entry = LedgerEntry(
        request_id=request.id,
        office_id=office.id,
        office_kind=office.kind,
        district_ags=office.district_ags,
        language_code=request.language_code,
        purpose=request.purpose,
        mode=request.mode,
        media=request.media,
        requested_at=request.scheduled_start or request.created_at,
        first_offered_at=request.first_offered_at,
        accepted_at=request.accepted_at,
        connected_at=request.connected_at,
        ended_at=ended,
        wait_seconds=_seconds(request.created_at if request.mode is RequestMode.ON_DEMAND
                              else request.scheduled_start, waited_until),
        talk_seconds=_seconds(request.connected_at, request.ended_at) or 0,
        outcome=final_outcome,
        offers_made=request.offers_made,
        interpreter_id=request.interpreter_id,
        rating=request.rating,
        problems=request.rating_problems,
        late_cancellation=request.late_cancellation,
    )
    try:
        async with db.begin_nested():
            db.add(entry)
            await db.flush()
    except IntegrityError:
        found = await get_for_request(db=db, request_id=request.id)
        if found is None:
            raise
        return found
    return entry


async def record_no_interpreter(*, db: AsyncSession, office: Office, language_code: str, purpose: str,
                                mode: RequestMode, media: Media, now: datetime) -> LedgerEntry:
    """Unmet demand refused up front: nobody registered speaks the language (no request row)."""
    entry = LedgerEntry(
        request_id=None, office_id=office.id, office_kind=office.kind, district_ags=office.district_ags,
        language_code=language_code, purpose=purpose, mode=mode, media=media, requested_at=now,
        ended_at=now, wait_seconds=0, talk_seconds=0, outcome=LedgerOutcome.NO_INTERPRETER, offers_made=0,
    )
    db.add(entry)
    await db.flush()
    return entry


async def update_rating(*, db: AsyncSession, request: InterpretingRequest) -> None:
    """Copy a rating given after the call onto the request's ledger row."""
    entry = await get_for_request(db=db, request_id=request.id)
    if entry is not None:
        entry.rating = request.rating
        entry.problems = request.rating_problems
        await db.flush()
