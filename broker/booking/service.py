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
from broker.booking import availability, events, slots
from broker.booking.models import BookingDecline, BookingEscalation
from broker.booking.schemas import BookingCreate
from broker.call import service as call_service
from broker.config import Settings, get_settings
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
NOT_FOUND = "Booking not found."


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
        raise Invalid("The booking starts in the past.",
                      code="booking_in_past", loc=["body", "start"])
    if booking_in.duration_minutes > settings.booking_max_minutes:
        raise Invalid(f"A booking lasts at most {settings.booking_max_minutes} minutes.",
                      code="booking_too_long", loc=["body", "duration_minutes"],
                      maximum=settings.booking_max_minutes)
    await language_service.require_active(db=db, code=booking_in.language_code)
    await language_service.require_purpose(db=db, code=booking_in.purpose)
    start = booking_in.start.astimezone(now.tzinfo)
    end = start + timedelta(minutes=booking_in.duration_minutes)
    for day in availability.local_days(start, end):
        slots.refuse_holiday(day)
    return start, end


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


async def _guarded(db: AsyncSession, booking: InterpretingRequest, step: Callable[[], Awaitable[T]],
                   interpreter_id: int | None = None) -> T:
    """Run a write in a savepoint; the PostgreSQL exclusion constraint becomes the usual 409.

    `interpreter_id`: the one the write assigns (default: the booking's)."""
    try:
        async with db.begin_nested():
            return await step()
    except IntegrityError as exc:
        if EXCLUSION_CONSTRAINT not in str(exc.orig):
            raise
        interpreter_id = interpreter_id or booking.interpreter_id
        assert interpreter_id is not None and booking.scheduled_start and booking.scheduled_end
        start, end = booking.scheduled_start, booking.scheduled_end
        conflict = await availability.find_conflict(db=db, interpreter_id=interpreter_id,
                                                    start=start, end=end, exclude_id=booking.id)
        raise _slot_error(availability.booked_conflict(conflict) if conflict else availability.Unavailable(
            "booked", "The interpreter is already booked at that time.", (start, end))) from exc


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
            raise Invalid("This interpreter is not qualified for the language or wish.",
                          code="interpreter_not_qualified", loc=["body", "interpreter_id"])
        await availability.lock_interpreter(db=db, interpreter_id=chosen)
        unavailable = await availability.check(db=db, interpreter_id=chosen, start=start, end=end)
        if unavailable is not None:
            raise _slot_error(unavailable)
        booking.interpreter_id = chosen
    else:
        booking.interpreter_id = await _pick(db=db, booking=booking, exclude=set())
        if booking.interpreter_id is None:
            raise Conflict(f"No suitable interpreter is free {availability.describe_slot(start, end)}.",
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
    return Conflict(f"The booking is {booking.status.value}; this is no longer possible.",
                    code="booking_state", status=booking.status.value)


async def _caseworker_holds(db: AsyncSession, booking: InterpretingRequest) -> bool:
    """Whether the caseworker has the booking in their calendar: it was confirmed at some point
    (they were sent it then), now or before a confirmed interpreter withdrew."""
    if booking.status in (RequestStatus.ASSIGNED, RequestStatus.OPEN, RequestStatus.CONNECTED):
        return True
    found = await db.execute(select(BookingDecline.interpreter_id).where(
        BookingDecline.request_id == booking.id, BookingDecline.confirmed.is_(True)).limit(1))
    return found.first() is not None


def room_due(booking: InterpretingRequest, settings: Settings, now: datetime) -> bool:
    """Inside the room window: from `booking_room_open_minutes` before the start to the end."""
    assert booking.scheduled_start is not None and booking.scheduled_end is not None
    return booking.scheduled_start - timedelta(minutes=settings.booking_room_open_minutes) <= now \
        < booking.scheduled_end


async def confirm(*, db: AsyncSession, booking: InterpretingRequest, interpreter: User,
                  settings: Settings | None = None) -> InterpretingRequest:
    """Confirm the assignment; inside the room window the room opens at once (the room follows
    the booking's state: a late confirmation must not wait for a room-open job that already ran)."""
    settings = settings or get_settings()
    if booking.interpreter_id != interpreter.id:
        raise NotFound(NOT_FOUND)
    if booking.status in (RequestStatus.ASSIGNED, RequestStatus.OPEN):
        return booking  # a repeated confirm changes nothing
    if booking.status is not RequestStatus.REQUESTED:
        raise _state_conflict(booking)
    await availability.lock_interpreter(db=db, interpreter_id=interpreter.id)
    if not await _guarded(db, booking, lambda: _transition(
            db, booking, (RequestStatus.REQUESTED,), status=RequestStatus.ASSIGNED, accepted_at=utcnow())):
        raise _state_conflict(booking)
    await events.emit(db, events.BOOKING_CONFIRMED, booking, [booking.caseworker_id, booking.interpreter_id])
    if room_due(booking, settings, utcnow()):
        await open_room(db=db, booking=booking, settings=settings)
    return booking


async def release(*, db: AsyncSession, booking: InterpretingRequest, interpreter: User,
                  settings: Settings) -> InterpretingRequest:
    """The interpreter declines (or withdraws from) the booking; it goes to the next in fair share.

    Mails: the interpreter gets a CANCEL in their own words; the caseworker hears of it only if
    the booking had been confirmed (it stays in their calendar, tentative), or when nobody else
    can be found (then they choose: another time, on demand, or cancel).
    """
    if booking.interpreter_id != interpreter.id:
        raise NotFound(NOT_FOUND)
    if booking.status not in ACTIVE:
        raise _state_conflict(booking)
    assert booking.scheduled_start is not None
    was_open = booking.status is RequestStatus.OPEN
    confirmed = booking.status is not RequestStatus.REQUESTED
    late = confirmed and booking.scheduled_start - utcnow() < timedelta(hours=settings.booking_late_cancel_hours)
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.REQUESTED, interpreter_id=None,
                             accepted_at=None):
        raise _state_conflict(booking)
    if was_open:  # the withdrawn person's room closes; a new confirmation opens it again
        await call_service.end_for_request(db=db, request_id=booking.id, now=utcnow(), reason="withdrawn")
    db.add(BookingDecline(request_id=booking.id, interpreter_id=interpreter.id, late=late, confirmed=confirmed))
    await db.flush()
    declined = set((await db.execute(select(BookingDecline.interpreter_id).where(
        BookingDecline.request_id == booking.id))).scalars())
    await audit_service.record(db=db, actor_id=interpreter.id, action="booking_decline", object_type="booking",
                               object_id=booking.id, details={"late": late})
    await events.emit(db, events.BOOKING_DECLINED, booking, [interpreter.id])
    holds = await _caseworker_holds(db, booking)
    picked = await _pick(db=db, booking=booking, exclude=declined)
    if picked is not None:  # a new assignee: the version goes up, so later mails and the feed read as newer
        await _guarded(db, booking, lambda: request_service.move(db, booking, interpreter_id=picked),
                       interpreter_id=picked)
    if booking.interpreter_id is not None:
        await events.emit(db, events.BOOKING_ASSIGNED, booking, [booking.interpreter_id])
        if confirmed:
            await events.emit(db, events.BOOKING_WITHDRAWN, booking, [booking.caseworker_id])
    else:
        await events.emit(db, events.BOOKING_UNASSIGNED, booking, [booking.caseworker_id],
                          calendar=[booking.caseworker_id] if holds else [])
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
    late = is_late(booking, settings, now)
    holds = await _caseworker_holds(db, booking)
    was_open = booking.status is RequestStatus.OPEN
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.CANCELLED, cancelled_by=actor.id,
                             ended_at=now, late_cancellation=late):
        raise _state_conflict(booking)
    if was_open:
        await call_service.end_for_request(db=db, request_id=booking.id, now=now, reason="cancelled")
    await ledger_service.record_final(db=db, request=booking, outcome=LedgerOutcome.CANCELLED)
    await audit_service.record(db=db, actor_id=actor.id, action="booking_cancel", object_type="booking",
                               object_id=booking.id, details={"late": late})
    kind = events.BOOKING_LATE_CANCELLED if late else events.BOOKING_CANCELLED
    await events.emit(db, kind, booking, [booking.caseworker_id, booking.interpreter_id], extra={"late": late},
                      calendar=[booking.interpreter_id, booking.caseworker_id if holds else None])
    return booking


def is_late(booking: InterpretingRequest, settings: Settings, now: datetime) -> bool:
    """A cancellation now would be flagged late (closer to the start than the notice period)."""
    assert booking.scheduled_start is not None
    return booking.scheduled_start - now < timedelta(hours=settings.booking_late_cancel_hours)


async def open_room(*, db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """The room opens a few minutes before the start (only for a confirmed booking). A room that
    closed when a confirmed person withdrew opens again for whoever confirmed next."""
    if not await _transition(db, booking, (RequestStatus.ASSIGNED,), status=RequestStatus.OPEN):
        return False
    call = await call_service.get_for_request(db=db, request_id=booking.id)
    if call is None:
        await call_service.open_for(db=db, request=booking, settings=settings, now=utcnow())
    else:
        await call_service.reopen(db=db, call=call, request=booking, settings=settings, now=utcnow())
    await events.emit(db, events.BOOKING_ROOM_OPEN, booking, [booking.caseworker_id, booking.interpreter_id])
    return True


async def escalation_of(*, db: AsyncSession, booking_id: int) -> int | None:
    """The on-demand request a no-show booking was handed to, if any."""
    found = await db.execute(select(BookingEscalation.request_id).where(BookingEscalation.booking_id == booking_id))
    return found.scalar_one_or_none()


async def escalate(*, db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> bool:
    """No interpreter in the room at start + grace: hand the need to the on-demand pool.

    The booking's room closes with reason `escalated` and the event names the new request, so
    the counter leaves the empty room and follows the new request (also after a reload: the
    link is stored). Everyone holding the booking in a calendar gets a CANCEL; admins are told.
    """
    holds = await _caseworker_holds(db, booking)
    if not await _transition(db, booking, ACTIVE, status=RequestStatus.ESCALATED, ended_at=utcnow()):
        return False
    await ledger_service.record_final(db=db, request=booking, outcome=LedgerOutcome.ESCALATED)
    pooled = await request_service.enqueue_on_demand(db=db, request=booking, priority=True, settings=settings)
    db.add(BookingEscalation(booking_id=booking.id, request_id=pooled.id))
    await db.flush()
    await audit_service.record(db=db, actor_id=None, action="booking_escalate", object_type="booking",
                               object_id=booking.id, details={"interpreter_id": booking.interpreter_id,
                                                              "request_id": pooled.id})
    admins = (await db.execute(select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)))).scalars()
    await events.emit(db, events.NO_SHOW_ESCALATED, booking, [booking.caseworker_id, booking.interpreter_id, *admins],
                      extra={"next_request_id": pooled.id},
                      calendar=[booking.interpreter_id, booking.caseworker_id if holds else None])
    # After the event: the counter hears where to go before its room closes under it.
    await call_service.end_for_request(db=db, request_id=booking.id, now=utcnow(), reason="escalated")
    return True
