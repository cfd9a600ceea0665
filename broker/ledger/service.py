"""The usage ledger writer: exactly one pseudonymous row per finished request.

Only dimensions and times are copied (office, district, language, purpose, mode, media,
times, counts, interpreter id for pay, rating). Never a name, a note or anything else that
could identify a client.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import table, utcnow
from broker.enums import LedgerOutcome, Media, RequestMode, RequestStatus
from broker.ledger.models import LedgerEntry, local_keys
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


_LEDGER = table(LedgerEntry)
_OFFICES = table(Office).c
# The office's dimensions are copied by the INSERT itself (no lookup first); a second writer
# for the same request inserts nothing (unique request_id) and reads the first one's row.
_OFFICE_DIMENSIONS = (_OFFICES.id, _OFFICES.kind, _OFFICES.district_ags)
_COPIED = ("request_id", "language_code", "purpose", "mode", "media", "requested_at", "local_month", "local_how",
           "first_offered_at", "accepted_at", "connected_at", "ended_at", "wait_seconds", "talk_seconds", "outcome",
           "offers_made", "interpreter_id", "rating", "problems", "late_cancellation")


@lru_cache(maxsize=4)
def _insert_once(dialect: str) -> Any:
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    values = select(*_OFFICE_DIMENSIONS, *(bindparam(f"p_{name}", type_=_LEDGER.c[name].type) for name in _COPIED)
                    ).where(_OFFICES.id == bindparam("p_office_id"))
    return (insert(_LEDGER).from_select(["office_id", "office_kind", "district_ags", *_COPIED], values)
            .on_conflict_do_nothing(index_elements=["request_id"]).returning(*_LEDGER.c))


async def record_final(*, db: AsyncSession, request: InterpretingRequest,
                       outcome: LedgerOutcome | None = None) -> LedgerEntry:
    """Write the request's ledger row, or return the one already written (idempotent).

    Call it in the transaction that moved the request into its final status. The outcome
    follows the status unless given. One statement on the hot path (INSERT … SELECT … ON
    CONFLICT DO NOTHING RETURNING); the returned entry is not added to the session.
    """
    final_outcome = outcome or OUTCOME_BY_STATUS.get(request.status)
    if final_outcome is None:
        raise ValueError(f"request {request.id} is not finished (status {request.status})")
    ended = request.ended_at or utcnow()
    waited_until = request.accepted_at or (None if final_outcome is LedgerOutcome.COMPLETED else ended)
    requested_at = request.scheduled_start or request.created_at
    local_month, local_how = local_keys(requested_at)
    params = {
        "office_id": request.office_id, "request_id": request.id, "language_code": request.language_code,
        "purpose": request.purpose, "mode": request.mode, "media": request.media, "requested_at": requested_at,
        "local_month": local_month, "local_how": local_how, "first_offered_at": request.first_offered_at,
        "accepted_at": request.accepted_at, "connected_at": request.connected_at, "ended_at": ended,
        "wait_seconds": _seconds(request.created_at if request.mode is RequestMode.ON_DEMAND
                                 else request.scheduled_start, waited_until),
        "talk_seconds": _seconds(request.connected_at, request.ended_at) or 0, "outcome": final_outcome,
        "offers_made": request.offers_made, "interpreter_id": request.interpreter_id, "rating": request.rating,
        "problems": request.rating_problems, "late_cancellation": request.late_cancellation,
    }
    stmt = _insert_once(db.get_bind().dialect.name)
    row = (await db.execute(stmt, {f"p_{key}": value for key, value in params.items()})).first()
    if row is None:
        found = await get_for_request(db=db, request_id=request.id)
        if found is None:
            raise LookupError(f"office {request.office_id} of request {request.id} not found")
        return found
    return LedgerEntry(**row._asdict())


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
