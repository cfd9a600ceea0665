"""On-demand requests: create, read, cancel, callback, connect, end, rate — and the bookings' way in.

Services add and flush; the route (or job wrapper) commits, then publishes the recorded
events (`broker.live.effects`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.call import service as call_service
from broker.config import Settings, get_settings
from broker.database import UTCDateTime, table, utcnow
from broker.enums import InterpreterStatus, OfferStatus, Priority, RequestMode, RequestStatus, Role
from broker.errors import Conflict, Invalid, NotFound
from broker.interpreter import idle
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.language import service as language_service
from broker.language.models import Language, Purpose
from broker.ledger import service as ledger_service
from broker.live import effects
from broker.notification import hooks as notification_hooks
from broker.office.models import Office
from broker.request import dispatch, estimate, lifecycle
from broker.request.models import InterpretingRequest, Offer
from broker.request.schemas import LanguageTierRead, RatingIn, RequestCreate
from broker.user.models import User

_NOW = bindparam("now", type_=UTCDateTime())  # the action's moment in Core statements

REQUEST_NOT_FOUND = "Request not found."


class NoInterpreter(Invalid):
    """Refused, but recorded as unmet demand: the route commits the ledger row, then answers 422."""

    code = "no_interpreter"


async def anyone_registered(*, db: AsyncSession, language_code: str) -> bool:
    stmt = (select(InterpreterLanguage.interpreter_id)
            .join(User, User.id == InterpreterLanguage.interpreter_id)
            .where(InterpreterLanguage.language_code == language_code, User.active.is_(True)).limit(1))
    return (await db.execute(stmt)).first() is not None


# Language, purpose and office checked in one round trip (NULL: unknown or inactive).
_CONTEXT = select(
    select(Language.code).where(Language.code == bindparam("language_code"), Language.active.is_(True))
    .scalar_subquery(),
    select(Purpose.code).where(Purpose.code == bindparam("purpose"), Purpose.active.is_(True)).scalar_subquery(),
    select(Office.kind).where(Office.id == bindparam("office_id"), Office.active.is_(True)).scalar_subquery(),
)


async def create(*, db: AsyncSession, user: User, request_in: RequestCreate, settings: Settings,
                 now: datetime) -> InterpretingRequest:
    """Create an on-demand request for the caseworker's office and offer it at once.

    The first offer goes through `dispatch.dispatch` like every later one. The hot path is four
    statements: the checks, the locked candidates, the request row (already `offered`), and
    the reservation with its offers. The returned request is not in the session.
    """
    language_code, purpose, kind = (await db.execute(_CONTEXT, {
        "language_code": request_in.language_code, "purpose": request_in.purpose,
        "office_id": user.office_id})).one()
    if language_code is None:
        await language_service.require_active(db=db, code=request_in.language_code)
    if purpose is None:
        await language_service.require_purpose(db=db, code=request_in.purpose)
    if kind is None or user.office_id is None:
        raise Invalid("Your account belongs to no active office.", code="no_office")
    request = InterpretingRequest(
        office_id=user.office_id, caseworker_id=user.id, mode=RequestMode.ON_DEMAND,
        status=lifecycle.initial(RequestMode.ON_DEMAND), created_at=now,
        deadline_at=dispatch.new_deadline(settings, now), offers_made=0, late_cancellation=False,
        **request_in.model_dump())

    async def nobody() -> None:
        if not await anyone_registered(db=db, language_code=request.language_code):
            await _refuse_unmet(db=db, user=user, request_in=request_in, now=now)

    await dispatch.dispatch(db=db, request=request, settings=settings, now=now, kind=kind.value, nobody=nobody)
    return request


async def _refuse_unmet(*, db: AsyncSession, user: User, request_in: RequestCreate, now: datetime) -> None:
    """Nobody registered speaks the language: record unmet demand and refuse (the route commits)."""
    language = await language_service.require_active(db=db, code=request_in.language_code)
    office = await db.get(Office, user.office_id)
    assert office is not None
    await ledger_service.record_no_interpreter(
        db=db, office=office, language_code=language.code, purpose=request_in.purpose,
        mode=RequestMode.ON_DEMAND, media=request_in.media, now=now)
    raise NoInterpreter(
        f"No interpreter is registered for {language.name_en}; the demand has been recorded.",
        language=language.code)


async def enqueue_on_demand(*, db: AsyncSession, request: InterpretingRequest, priority: bool = True,
                            settings: Settings | None = None, now: datetime | None = None) -> InterpretingRequest:
    """Put a booking's need into the on-demand pool (escalation) as a new on-demand request.

    The booking itself is left alone (its caller sets it `escalated` and writes its ledger
    row). The new request is queued with a fresh maximum wait; the dispatcher loop offers it
    within a tick and publishes the offers, so the caller need not know about events.
    """
    settings = settings or get_settings()
    moment = now or utcnow()
    pooled = InterpretingRequest(
        office_id=request.office_id, caseworker_id=request.caseworker_id, language_code=request.language_code,
        purpose=request.purpose, mode=RequestMode.ON_DEMAND, media=request.media,
        priority=Priority.URGENT if priority else request.priority, wish_gender=request.wish_gender,
        wish_qualification=request.wish_qualification, status=RequestStatus.QUEUED, created_at=moment,
        deadline_at=dispatch.new_deadline(settings, moment))
    db.add(pooled)
    await db.flush()
    effects.pending(db).wake = True
    return pooled


def visible_query(user: User) -> Select[Any]:
    """Caseworkers see their office's requests, interpreters their own sessions, others all."""
    stmt = select(InterpretingRequest)
    if user.role is Role.CASEWORKER:
        stmt = stmt.where(InterpretingRequest.office_id == user.office_id)
    elif user.role is Role.INTERPRETER:
        stmt = stmt.where(InterpretingRequest.interpreter_id == user.id)
    return stmt


async def get_visible(*, db: AsyncSession, user: User, request_id: int) -> InterpretingRequest:
    stmt = visible_query(user).where(InterpretingRequest.id == request_id)
    request: InterpretingRequest | None = (await db.execute(stmt)).scalar_one_or_none()
    if request is None:
        raise NotFound(REQUEST_NOT_FOUND)
    return request


def list_query(*, user: User, status: RequestStatus | None, mode: RequestMode | None) -> Select[Any]:
    stmt = visible_query(user).order_by(InterpretingRequest.created_at.desc(), InterpretingRequest.id.desc())
    if status is not None:
        stmt = stmt.where(InterpretingRequest.status == status)
    if mode is not None:
        stmt = stmt.where(InterpretingRequest.mode == mode)
    return stmt


async def _locked_visible(db: AsyncSession, user: User, request_id: int) -> InterpretingRequest:
    """The request, if this user may see it, locked for the transaction (404 otherwise)."""
    stmt = (visible_query(user).where(InterpretingRequest.id == request_id)
            .with_for_update().execution_options(populate_existing=True))
    request: InterpretingRequest | None = (await db.execute(stmt)).scalar_one_or_none()
    if request is None:
        raise NotFound(REQUEST_NOT_FOUND)
    return request


async def cancel(*, db: AsyncSession, user: User, request_id: int, now: datetime) -> InterpretingRequest:
    """Cancel a waiting request; once an interpreter accepted, the call is ended instead."""
    request = await _locked_visible(db, user, request_id)
    if request.status not in lifecycle.CANCELLABLE or request.mode is not RequestMode.ON_DEMAND:
        raise Conflict(f"The request is already '{request.status.value}' and cannot be cancelled.",
                       code="not_cancellable", status=request.status.value)
    await dispatch.close_offers(db, await dispatch.pending_offers(db, request.id), OfferStatus.REVOKED,
                                now, "cancelled")
    await dispatch.move(db, request, status=RequestStatus.CANCELLED, cancelled_by=user.id, ended_at=now)
    await ledger_service.record_final(db=db, request=request)
    effects.notify(db, request.caseworker_id, dispatch.status_event(request))
    return request


async def callback(*, db: AsyncSession, user: User, request_id: int, now: datetime) -> InterpretingRequest:
    """Leave the queue and be told when an interpreter is free (then dispatched with priority).

    From a waiting request the same request changes to `callback`; an `unfilled` request is
    final (its ledger row is written), so a follow-up request in `callback` is created instead.
    """
    request = await _locked_visible(db, user, request_id)
    if request.mode is not RequestMode.ON_DEMAND or request.status not in (*lifecycle.WAITING, RequestStatus.UNFILLED):
        raise Conflict("A callback is only possible for waiting or unfilled requests.", code="no_callback")
    if request.status is RequestStatus.UNFILLED:
        if request.follow_up_id is not None:  # checked under the row lock: concurrent calls queue here
            raise Conflict("A callback was already requested for this request.",
                           code="callback_exists", follow_up_id=request.follow_up_id)
        follow_up = InterpretingRequest(
            office_id=request.office_id, caseworker_id=request.caseworker_id,
            language_code=request.language_code, purpose=request.purpose, mode=RequestMode.ON_DEMAND,
            media=request.media, priority=request.priority, wish_gender=request.wish_gender,
            wish_qualification=request.wish_qualification, status=RequestStatus.CALLBACK, created_at=now)
        db.add(follow_up)
        await db.flush()
        request.follow_up_id = follow_up.id
        await db.flush()
        effects.notify(db, request.caseworker_id, dispatch.status_event(follow_up))
        return follow_up
    await dispatch.close_offers(db, await dispatch.pending_offers(db, request.id), OfferStatus.REVOKED,
                                now, "callback")
    await dispatch.move(db, request, status=RequestStatus.CALLBACK, deadline_at=None)
    effects.notify(db, request.caseworker_id, dispatch.status_event(request))
    return request


async def ring_back(*, db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> bool:
    """A callback request whose language has a free interpreter: queue it urgently and offer it."""
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None or request.status is not RequestStatus.CALLBACK:
        return False
    if not await dispatch.has_candidate(db, request):
        return False
    await dispatch.move(db, request, status=RequestStatus.QUEUED, priority=Priority.URGENT,
                        deadline_at=dispatch.new_deadline(settings, now))
    effects.notify(db, request.caseworker_id, {"type": "callback-ready", "request_id": request.id})
    await notification_hooks.callback_ready(db, request)  # e-mail, same transaction
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return True


_OFFERS = table(Offer).c
_CLOSE_ACCEPTED = (update(table(Offer))
                   .where(_OFFERS.request_id == bindparam("b_request_id"), _OFFERS.status == OfferStatus.ACCEPTED)
                   .values(closed_at=_NOW))
_PROFILES = table(InterpreterProfile).c
# A booked call's interpreter is in session while media flows, so no on-demand offer reaches them.
_BOOKED_IN_SESSION = (update(table(InterpreterProfile))
                      .where(_PROFILES.user_id == bindparam("b_user_id"),
                             _PROFILES.status == InterpreterStatus.AVAILABLE)
                      .values(status=InterpreterStatus.IN_SESSION, status_changed_at=_NOW))


def _tell_parties(db: AsyncSession, request: InterpretingRequest) -> None:
    for party in (request.caseworker_id, request.interpreter_id):
        if party is not None:
            effects.notify(db, party, dispatch.status_event(request))


async def mark_connected(*, db: AsyncSession, user: User, request_id: int, now: datetime) -> InterpretingRequest:
    """A party reports that media flows; the first report sets `connected` (idempotent).

    On demand the call runs in `accepted`, a booking's in `open` (the room opened before the
    start); both become `connected`.
    """
    request = await _locked_visible(db, user, request_id)
    if request.status is RequestStatus.CONNECTED:
        return request
    if request.status not in lifecycle.CONNECTABLE:
        raise Conflict("No call in progress.", code="no_call")
    await dispatch.move(db, request, status=RequestStatus.CONNECTED, connected_at=now)
    await call_service.connect_for_request(db=db, request_id=request.id)
    if request.mode is RequestMode.BOOKED and request.interpreter_id is not None:
        held = await db.execute(_BOOKED_IN_SESSION, {"b_user_id": request.interpreter_id, "now": now})
        if held.rowcount:  # type: ignore[attr-defined]
            effects.notify(db, request.interpreter_id, {"type": "interpreter-status",
                                                         "status": InterpreterStatus.IN_SESSION.value})
    _tell_parties(db, request)
    return request


async def end_call(*, db: AsyncSession, user: User, request_id: int, settings: Settings,
                   now: datetime) -> InterpretingRequest:
    """End the call: completed (failed if it never connected), ledger row, interpreter to wrap-up.

    A booking whose call never connected (`open`) is not ended here: its room stays open for
    the parties to retry, and the no-show check escalates it if nobody connects.
    """
    request = await _locked_visible(db, user, request_id)
    if request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        return request  # the other party ended it a moment earlier
    if request.status not in lifecycle.IN_CALL:
        raise Conflict("No call in progress.", code="no_call")
    await finish_call(db=db, request=request, settings=settings, now=now)
    return request


async def end_abandoned(*, db: AsyncSession, request_id: int, settings: Settings, now: datetime,
                        vacant_since: datetime) -> bool:
    """End a call whose room stayed empty for the grace period (both parties vanished).

    Same end as a party's "end call": a call that had connected is `completed`, its talk time
    counted up to the moment the room was seen empty (that is when the conversation stopped;
    counting the grace would bill minutes nobody talked); one that never connected is `failed`,
    as when a party hangs up before media flowed. Skips a request another process holds.
    """
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None or request.status not in lifecycle.IN_CALL:
        return False
    ended_at = max(vacant_since, request.connected_at) if request.connected_at else vacant_since
    await finish_call(db=db, request=request, settings=settings, now=now, ended_at=min(ended_at, now))
    return True


async def finish_call(*, db: AsyncSession, request: InterpretingRequest, settings: Settings, now: datetime,
                      ended_at: datetime | None = None) -> None:
    """The one way a call in progress ends (locked request in `lifecycle.IN_CALL`): final status, the room
    closed, the interpreter to wrap-up, the ledger row, both parties told."""
    ended_at = ended_at or now
    await dispatch.move(db, request, status=RequestStatus.COMPLETED if request.connected_at else RequestStatus.FAILED,
                        ended_at=ended_at)
    await db.execute(_CLOSE_ACCEPTED, {"b_request_id": request.id, "now": now})
    await call_service.end_for_request(db=db, request_id=request.id, now=now)
    if request.interpreter_id is not None:
        await start_wrap_up(db=db, interpreter_id=request.interpreter_id, request=request,
                            settings=settings, now=now)
    await ledger_service.record_final(db=db, request=request)
    _tell_parties(db, request)


_IN_SESSION = _PROFILES.status == InterpreterStatus.IN_SESSION


@lru_cache(maxsize=2)
def _wrap_up_stmt(wrap_up: bool) -> Any:
    """One UPDATE … RETURNING instead of a locked read and a flush (the row lock is the same)."""
    target = InterpreterStatus.WRAP_UP.value if wrap_up else idle.IDLE_STATUS
    values: dict[str, Any] = {
        "minutes_since_break": _PROFILES.minutes_since_break + bindparam("minutes", type_=Integer),
        "status": case((_IN_SESSION, target), else_=_PROFILES.status),
        "status_changed_at": case((_IN_SESSION, _NOW), else_=_PROFILES.status_changed_at)}
    if not wrap_up:
        values["idle_since"] = case((_IN_SESSION, _NOW), else_=_PROFILES.idle_since)
    return (update(table(InterpreterProfile)).where(_PROFILES.user_id == bindparam("b_user_id")).values(values)
            .returning(_PROFILES.status, _PROFILES.minutes_since_break, _PROFILES.max_session_minutes))


async def start_wrap_up(*, db: AsyncSession, interpreter_id: int, request: InterpretingRequest,
                        settings: Settings, now: datetime) -> None:
    """Count the talk minutes; an interpreter in session goes to wrap-up (or straight back to idle)."""
    minutes = 0
    if request.connected_at is not None and request.ended_at is not None:
        minutes = round((request.ended_at - request.connected_at).total_seconds() / 60)
    wrap_up = settings.wrap_up_seconds > 0
    row = (await db.execute(_wrap_up_stmt(wrap_up), {"b_user_id": interpreter_id, "minutes": minutes,
                                                      "now": now})).one()
    status = InterpreterStatus(row.status)
    if not wrap_up and status is InterpreterStatus.AVAILABLE:
        effects.pending(db).wake = True
    event: dict[str, Any] = {"type": "interpreter-status", "status": status.value,
                             "wrap_up_seconds": settings.wrap_up_seconds,
                             "wrap_up_until": (now + timedelta(seconds=settings.wrap_up_seconds)).isoformat()}
    if row.minutes_since_break >= row.max_session_minutes:
        event.update(reason="break_suggested", message="Please take a break before the next offer.")
    effects.notify(db, interpreter_id, event)


async def move(db: AsyncSession, request: InterpretingRequest, *, expected: Collection[RequestStatus] | None = None,
               **values: Any) -> bool:
    """Change a request's status or values (the version goes up); see `dispatch.move` (bookings' way in)."""
    return await dispatch.move(db, request, expected=expected, **values)


async def withdraw_offers_of(*, db: AsyncSession, interpreter_id: int, settings: Settings,
                             now: datetime, reason: str) -> bool:
    """Withdraw the interpreter's pending offer (went offline or away) and cascade the request.

    The interpreter area's way in: it locks the request before the profile (lock order).
    """
    stmt = select(Offer.request_id).where(Offer.interpreter_id == interpreter_id,
                                          Offer.status == OfferStatus.PENDING)
    request_id = (await db.execute(stmt)).scalar_one_or_none()
    if request_id is None:
        return False
    request = await dispatch.lock_request(db, request_id)
    assert request is not None
    mine = [o for o in await dispatch.pending_offers(db, request_id) if o.interpreter_id == interpreter_id]
    await dispatch.close_offers(db, mine, OfferStatus.REVOKED, now, reason)
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return bool(mine)


async def language_tiers(*, db: AsyncSession, now: datetime, office_id: int | None) -> list[LanguageTierRead]:
    """For every language: interpreters online now, the typical wait, the office's own demand."""
    return await estimate.tiers(db=db, now=now, office_id=office_id)


async def rate(*, db: AsyncSession, user: User, request_id: int, rating_in: RatingIn) -> InterpretingRequest:
    """Rate a finished call (1–5 and problem ticks); the ledger row gets the rating too."""
    request = await _locked_visible(db, user, request_id)
    if request.status not in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        raise Conflict("Only a finished call can be rated.",
                       code="not_finished")
    request.rating = rating_in.rating
    request.rating_problems = ",".join(sorted({p.value for p in rating_in.problems})) or None
    await db.flush()
    await ledger_service.update_rating(db=db, request=request)
    return request
