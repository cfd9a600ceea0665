"""Bookings (Termine): create with a proposed or automatically chosen interpreter, confirm,
decline (re-assigns), cancel (late flag), open the room, escalate a no-show to the on-demand pool.

Status changes are conditional UPDATEs on the expected status, so a confirm racing a cancel has
one clear winner. Double booking is refused by an overlap check serialised per interpreter
(BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) and, on PostgreSQL, also by the
exclusion constraint `ex_requests_no_double_booking`; both give the same 409 naming the slot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.booking import availability, events
from broker.booking.models import BookingDecline
from broker.booking.schemas import BookingCreate
from broker.call import service as call_service
from broker.config import Settings
from broker.database import utcnow
from broker.enums import LedgerOutcome, RequestMode, RequestStatus, Role
from broker.errors import Conflict, Invalid, NotFound
from broker.language import service as language_service
from broker.ledger import service as ledger_service
from broker.request import lifecycle
from broker.request import service as request_service
from broker.request.models import InterpretingRequest
from broker.user.models import User

EXCLUSION_CONSTRAINT = "ex_requests_no_double_booking"
ACTIVE = lifecycle.BOOKING_ACTIVE
T = TypeVar("T")
NOT_FOUND = "Termin nicht gefunden. / Booking not found."


def _slot_error(unavailable: availability.Unavailable) -> Conflict:
    extra: dict[str, Any] = {}
    if unavailable.slot is not None:
        extra["conflict"] = {"start": unavailable.slot[0].isoformat(), "end": unavailable.slot[1].isoformat()}
    code = "double_booking" if unavailable.reason == "booked" else f"interpreter_{unavailable.reason}"
    return Conflict(unavailable.message, code=code, **extra)


async def get(*, db: AsyncSession, booking_id: int, for_update: bool = False) -> InterpretingRequest | None:
    stmt = select(InterpretingRequest).where(InterpretingRequest.id == booking_id,
                                             InterpretingRequest.mode == RequestMode.BOOKED)
    if for_update:
        stmt = stmt.with_for_update()
    return (await db.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


def visible_to(user: User, booking: InterpretingRequest) -> bool:
    if user.role in (Role.ADMIN, Role.MANAGER):
        return True
    if user.role is Role.CASEWORKER:
        return booking.office_id == user.office_id
    return booking.interpreter_id == user.id


async def get_visible(*, db: AsyncSession, booking_id: int, user: User,
                      for_update: bool = False) -> InterpretingRequest:
    """The booking if this user may see it; another office's booking is a 404, not a 403."""
    booking = await get(db=db, booking_id=booking_id, for_update=for_update)
    if booking is None or not visible_to(user, booking):
        raise NotFound(NOT_FOUND)
    return booking


def list_query(*, user: User, status: RequestStatus | None = None, start_from: datetime | None = None,
               start_to: datetime | None = None) -> Select[Any]:
    stmt = select(InterpretingRequest).where(InterpretingRequest.mode == RequestMode.BOOKED)
    if user.role is Role.CASEWORKER:
        stmt = stmt.where(InterpretingRequest.office_id == user.office_id)
    elif user.role is Role.INTERPRETER:
        stmt = stmt.where(InterpretingRequest.interpreter_id == user.id)
    if status is not None:
        stmt = stmt.where(InterpretingRequest.status == status)
    if start_from is not None:
        stmt = stmt.where(InterpretingRequest.scheduled_start >= start_from)
    if start_to is not None:
        stmt = stmt.where(InterpretingRequest.scheduled_start < start_to)
    return stmt.order_by(InterpretingRequest.scheduled_start, InterpretingRequest.id)


async def validate(*, db: AsyncSession, booking_in: BookingCreate, settings: Settings,
                   now: datetime | None = None) -> tuple[datetime, datetime]:
    """Check the request (422 on bad input) and return its slot."""
    now = now or utcnow()
    if booking_in.start <= now:
        raise Invalid("Der Termin liegt in der Vergangenheit. / The booking starts in the past.",
                      code="booking_in_past", loc=["body", "start"])
    if booking_in.duration_minutes > settings.booking_max_minutes:
        raise Invalid(f"Ein Termin dauert höchstens {settings.booking_max_minutes} Minuten. / "
                      f"A booking lasts at most {settings.booking_max_minutes} minutes.",
                      code="booking_too_long", loc=["body", "duration_minutes"])
    await language_service.require_active(db=db, code=booking_in.language_code)
    await language_service.require_purpose(db=db, code=booking_in.purpose)
    start = booking_in.start.astimezone(now.tzinfo)
    return start, start + timedelta(minutes=booking_in.duration_minutes)


async def proposals(*, db: AsyncSession, booking_in: BookingCreate, settings: Settings,
                    exclude: list[int] | None = None) -> list[availability.Candidate]:
    start, end = await validate(db=db, booking_in=booking_in, settings=settings)
    return await availability.candidates(db=db, language_code=booking_in.language_code, start=start, end=end,
                                         wish_gender=booking_in.wish_gender,
                                         wish_qualification=booking_in.wish_qualification,
                                         exclude=exclude or ())


async def _pick(*, db: AsyncSession, booking: InterpretingRequest, exclude: set[int]) -> int | None:
    """Lock and return the first free candidate (fair share), skipping ones being booked right now."""
    assert booking.scheduled_start is not None and booking.scheduled_end is not None
    found = await availability.candidates(
        db=db, language_code=booking.language_code, start=booking.scheduled_start, end=booking.scheduled_end,
        wish_gender=booking.wish_gender, wish_qualification=booking.wish_qualification, exclude=exclude,
        exclude_booking_id=booking.id)
    for candidate in found:
        if not await availability.lock_interpreter(db=db, interpreter_id=candidate.user_id, wait=False):
            continue
        if await availability.check(db=db, interpreter_id=candidate.user_id, start=booking.scheduled_start,
                                    end=booking.scheduled_end, exclude_id=booking.id) is None:
            return candidate.user_id
    return None


async def _guarded(db: AsyncSession, booking: InterpretingRequest, step: Callable[[], Awaitable[T]]) -> T:
    """Run a write in a savepoint; the PostgreSQL exclusion constraint becomes the usual 409."""
    try:
        async with db.begin_nested():
            return await step()
    except IntegrityError as exc:
        if EXCLUSION_CONSTRAINT not in str(exc.orig):
            raise
        assert booking.interpreter_id is not None and booking.scheduled_start and booking.scheduled_end
        start, end = booking.scheduled_start, booking.scheduled_end
        conflict = await availability.find_conflict(db=db, interpreter_id=booking.interpreter_id,
                                                    start=start, end=end, exclude_id=booking.id)
        raise _slot_error(availability.booked_conflict(conflict) if conflict else availability.Unavailable(
            "booked", "Die Dolmetscher:in ist zu dieser Zeit bereits gebucht. / "
                      "The interpreter is already booked at that time.", (start, end))) from exc


async def create(*, db: AsyncSession, booking_in: BookingCreate, caseworker: User,
                 settings: Settings) -> InterpretingRequest:
    start, end = await validate(db=db, booking_in=booking_in, settings=settings)
    assert caseworker.office_id is not None
    booking = InterpretingRequest(
        office_id=caseworker.office_id, caseworker_id=caseworker.id, language_code=booking_in.language_code,
        purpose=booking_in.purpose, mode=RequestMode.BOOKED, media=booking_in.media,
        wish_gender=booking_in.wish_gender, wish_qualification=booking_in.wish_qualification,
        status=RequestStatus.REQUESTED, scheduled_start=start, scheduled_end=end, created_at=utcnow())
    if booking_in.interpreter_id is not None:
        chosen = booking_in.interpreter_id
        qualification = await availability.qualification_of(db=db, interpreter_id=chosen,
                                                             language_code=booking_in.language_code)
        if qualification is None or not availability.qualification_ok(qualification, booking_in.wish_qualification):
            raise Invalid("Diese Dolmetscher:in ist für die Sprache oder den Wunsch nicht qualifiziert. / "
                          "This interpreter is not qualified for the language or wish.",
                          code="interpreter_not_qualified", loc=["body", "interpreter_id"])
        await availability.lock_interpreter(db=db, interpreter_id=chosen)
        unavailable = await availability.check(db=db, interpreter_id=chosen, start=start, end=end)
        if unavailable is not None:
            raise _slot_error(unavailable)
        booking.interpreter_id = chosen
    else:
        booking.interpreter_id = await _pick(db=db, booking=booking, exclude=set())
        if booking.interpreter_id is None:
            raise Conflict(f"Für {availability.describe_slot(start, end)} ist keine passende Dolmetscher:in frei. / "
                           f"No suitable interpreter is free {availability.describe_slot(start, end)}.",
                           code="no_interpreter_free")
    db.add(booking)
    await _guarded(db, booking, db.flush)
    await audit_service.record(db=db, actor_id=caseworker.id, action="booking_create", object_type="booking",
                               object_id=booking.id, details={"interpreter_id": booking.interpreter_id})
    await events.emit(db, events.BOOKING_ASSIGNED, booking, [booking.interpreter_id])
    return booking


async def _transition(db: AsyncSession, booking: InterpretingRequest, expected: tuple[RequestStatus, ...],
                      **values: Any) -> bool:
    """Move the booking on only if it is still in an expected status (and its version)."""
    return await request_service.move(db, booking, expected=expected, **values)


def _state_conflict(booking: InterpretingRequest) -> Conflict:
    return Conflict(f"Der Termin ist im Zustand „{booking.status.value}“; das geht nicht mehr. / "
                    f"The booking is {booking.status.value}; this is no longer possible.",
                    code="booking_state", status=booking.status.value)


async def confirm(*, db: AsyncSession, booking: InterpretingRequest, interpreter: User) -> InterpretingRequest:
    if booking.interpreter_id != interpreter.id:
        raise NotFound(NOT_FOUND)
    if booking.status is RequestStatus.ASSIGNED:
        return booking  # a repeated confirm changes nothing
    if booking.status is not RequestStatus.REQUESTED:
        raise _state_conflict(booking)
    await availability.lock_interpreter(db=db, interpreter_id=interpreter.id)
    if not await _guarded(db, booking, lambda: _transition(
            db, booking, (RequestStatus.REQUESTED,), status=RequestStatus.ASSIGNED, accepted_at=utcnow())):
        raise _state_conflict(booking)
    await events.emit(db, events.BOOKING_CONFIRMED, booking, [booking.caseworker_id, booking.interpreter_id])
    return booking


async def release(*, db: AsyncSession, booking: InterpretingRequest, interpreter: User,
                  settings: Settings) -> InterpretingRequest:
    """The interpreter declines (or withdraws from) the booking; it goes to the next in fair share."""
    if booking.interpreter_id != interpreter.id:
        raise NotFound(NOT_FOUND)
    if booking.status not in ACTIVE:
        raise _state_conflict(booking)
    assert booking.scheduled_start is not None
    late = booking.status is not RequestStatus.REQUESTED and \
        booking.scheduled_start - utcnow() < timedelta(hours=settings.booking_late_cancel_hours)
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.REQUESTED, interpreter_id=None,
                             accepted_at=None):
        raise _state_conflict(booking)
    db.add(BookingDecline(request_id=booking.id, interpreter_id=interpreter.id, late=late))
    await db.flush()
    declined = set((await db.execute(select(BookingDecline.interpreter_id).where(
        BookingDecline.request_id == booking.id))).scalars())
    await audit_service.record(db=db, actor_id=interpreter.id, action="booking_decline", object_type="booking",
                               object_id=booking.id, details={"late": late})
    await events.emit(db, events.BOOKING_DECLINED, booking, [booking.caseworker_id, interpreter.id])
    booking.interpreter_id = await _pick(db=db, booking=booking, exclude=declined)
    await _guarded(db, booking, db.flush)
    if booking.interpreter_id is not None:
        await events.emit(db, events.BOOKING_ASSIGNED, booking, [booking.interpreter_id])
    else:
        await events.emit(db, events.BOOKING_UNASSIGNED, booking, [booking.caseworker_id])
    return booking


async def cancel(*, db: AsyncSession, booking: InterpretingRequest, actor: User,
                 settings: Settings) -> InterpretingRequest:
    """Cancel by the caseworker side (or admin); an interpreter's cancel is a release."""
    if actor.role is Role.INTERPRETER:
        return await release(db=db, booking=booking, interpreter=actor, settings=settings)
    if booking.status not in ACTIVE:
        raise _state_conflict(booking)
    assert booking.scheduled_start is not None
    now = utcnow()
    late = booking.scheduled_start - now < timedelta(hours=settings.booking_late_cancel_hours)
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.CANCELLED, cancelled_by=actor.id,
                             ended_at=now, late_cancellation=late):
        raise _state_conflict(booking)
    await ledger_service.record_final(db=db, request=booking, outcome=LedgerOutcome.CANCELLED)
    await audit_service.record(db=db, actor_id=actor.id, action="booking_cancel", object_type="booking",
                               object_id=booking.id, details={"late": late})
    kind = events.BOOKING_LATE_CANCELLED if late else events.BOOKING_CANCELLED
    await events.emit(db, kind, booking, [booking.caseworker_id, booking.interpreter_id], extra={"late": late})
    return booking


async def open_room(*, db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """The room opens a few minutes before the start (only for a confirmed booking)."""
    if not await _transition(db, booking, (RequestStatus.ASSIGNED,), status=RequestStatus.OPEN):
        return False
    if await call_service.get_for_request(db=db, request_id=booking.id) is None:
        await call_service.open_for(db=db, request=booking, settings=settings, now=utcnow())
    await events.emit(db, events.BOOKING_ROOM_OPEN, booking, [booking.caseworker_id, booking.interpreter_id])
    return True


async def escalate(*, db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """No interpreter in the room at start + grace: hand the need to the on-demand pool."""
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.ESCALATED, ended_at=utcnow()):
        return False
    await ledger_service.record_final(db=db, request=booking, outcome=LedgerOutcome.ESCALATED)
    await request_service.enqueue_on_demand(db=db, request=booking, priority=True, settings=settings)
    await audit_service.record(db=db, actor_id=None, action="booking_escalate", object_type="booking",
                               object_id=booking.id, details={"interpreter_id": booking.interpreter_id})
    await events.emit(db, events.NO_SHOW_ESCALATED, booking, [booking.caseworker_id, booking.interpreter_id])
    return True
