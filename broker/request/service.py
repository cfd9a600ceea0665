"""On-demand requests: create, read, cancel, callback, connect, end, rate — and the bookings' way in.

Services add and flush; the route (or job wrapper) commits, then publishes the recorded
events (`broker.request.realtime`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.call import service as call_service
from broker.config import Settings, get_settings
from broker.database import utcnow
from broker.enums import InterpreterStatus, OfferStatus, Priority, RequestMode, RequestStatus, Role
from broker.errors import Conflict, Invalid, NotFound
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.language import service as language_service
from broker.ledger import service as ledger_service
from broker.notification import hooks as notification_hooks
from broker.office.models import Office
from broker.request import dispatch, realtime
from broker.request.models import InterpretingRequest, Offer
from broker.request.schemas import RatingIn, RequestCreate
from broker.user.models import User

REQUEST_NOT_FOUND = "Anfrage nicht gefunden. / Request not found."
CANCELLABLE = (RequestStatus.QUEUED, RequestStatus.OFFERED, RequestStatus.CALLBACK)
IN_CALL = (RequestStatus.ACCEPTED, RequestStatus.CONNECTED)


class NoInterpreter(Invalid):
    """Refused, but recorded as unmet demand: the route commits the ledger row, then answers 422."""

    code = "no_interpreter"


async def anyone_registered(*, db: AsyncSession, language_code: str) -> bool:
    stmt = (select(InterpreterLanguage.interpreter_id)
            .join(User, User.id == InterpreterLanguage.interpreter_id)
            .where(InterpreterLanguage.language_code == language_code, User.active.is_(True)).limit(1))
    return (await db.execute(stmt)).first() is not None


async def create(*, db: AsyncSession, user: User, request_in: RequestCreate, settings: Settings,
                 now: datetime) -> InterpretingRequest:
    """Create an on-demand request for the caseworker's office and offer it at once."""
    language = await language_service.require_active(db=db, code=request_in.language_code)
    await language_service.require_purpose(db=db, code=request_in.purpose)
    office = await db.get(Office, user.office_id) if user.office_id is not None else None
    if office is None or not office.active:
        raise Invalid("Ihr Konto ist keiner aktiven Dienststelle zugeordnet. / "
                      "Your account belongs to no active office.", code="no_office")
    if not await anyone_registered(db=db, language_code=language.code):
        await ledger_service.record_no_interpreter(
            db=db, office=office, language_code=language.code, purpose=request_in.purpose,
            mode=RequestMode.ON_DEMAND, media=request_in.media, now=now)
        raise NoInterpreter(
            f"Für {language.name_de} ist derzeit keine Dolmetscher:in registriert; der Bedarf wurde "
            f"vermerkt. / No interpreter is registered for {language.name_en}; the demand has been "
            "recorded.")
    request = InterpretingRequest(
        office_id=office.id, caseworker_id=user.id, mode=RequestMode.ON_DEMAND, status=RequestStatus.QUEUED,
        created_at=now, deadline_at=dispatch.new_deadline(settings, now), **request_in.model_dump())
    db.add(request)
    await db.flush()
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return request


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
    realtime.effects(db).wake = True
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
    if request.status not in CANCELLABLE or request.mode is not RequestMode.ON_DEMAND:
        raise Conflict(f"Die Anfrage ist bereits „{request.status.value}“ und kann nicht abgebrochen werden. / "
                       f"The request is already '{request.status.value}' and cannot be cancelled.",
                       code="not_cancellable", status=request.status.value)
    await dispatch.close_offers(db, await dispatch.pending_offers(db, request.id), OfferStatus.REVOKED,
                                now, "cancelled")
    request.status = RequestStatus.CANCELLED
    request.cancelled_by = user.id
    request.ended_at = now
    request.version += 1
    await db.flush()
    await ledger_service.record_final(db=db, request=request)
    realtime.notify(db, request.caseworker_id, dispatch.status_event(request))
    return request


async def callback(*, db: AsyncSession, user: User, request_id: int, now: datetime) -> InterpretingRequest:
    """Leave the queue and be told when an interpreter is free (then dispatched with priority).

    From a waiting request the same request changes to `callback`; an `unfilled` request is
    final (its ledger row is written), so a follow-up request in `callback` is created instead.
    """
    request = await _locked_visible(db, user, request_id)
    if request.mode is not RequestMode.ON_DEMAND or request.status not in (*dispatch.WAITING, RequestStatus.UNFILLED):
        raise Conflict("Ein Rückruf ist nur für wartende oder unbesetzte Anfragen möglich. / "
                       "A callback is only possible for waiting or unfilled requests.", code="no_callback")
    if request.status is RequestStatus.UNFILLED:
        follow_up = InterpretingRequest(
            office_id=request.office_id, caseworker_id=request.caseworker_id,
            language_code=request.language_code, purpose=request.purpose, mode=RequestMode.ON_DEMAND,
            media=request.media, priority=request.priority, wish_gender=request.wish_gender,
            wish_qualification=request.wish_qualification, status=RequestStatus.CALLBACK, created_at=now)
        db.add(follow_up)
        await db.flush()
        realtime.notify(db, request.caseworker_id, dispatch.status_event(follow_up))
        return follow_up
    await dispatch.close_offers(db, await dispatch.pending_offers(db, request.id), OfferStatus.REVOKED,
                                now, "callback")
    request.status = RequestStatus.CALLBACK
    request.deadline_at = None
    request.version += 1
    await db.flush()
    realtime.notify(db, request.caseworker_id, dispatch.status_event(request))
    return request


async def ring_back(*, db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> bool:
    """A callback request whose language has a free interpreter: queue it urgently and offer it."""
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None or request.status is not RequestStatus.CALLBACK:
        return False
    if not await dispatch.has_candidate(db, request):
        return False
    request.status = RequestStatus.QUEUED
    request.priority = Priority.URGENT
    request.deadline_at = dispatch.new_deadline(settings, now)
    await db.flush()
    realtime.notify(db, request.caseworker_id, {"type": "callback-ready", "request_id": request.id})
    await notification_hooks.callback_ready(db, request)  # e-mail, same transaction
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return True


async def mark_connected(*, db: AsyncSession, user: User, request_id: int, now: datetime) -> InterpretingRequest:
    """A party reports that media flows; the first report sets `connected` (idempotent)."""
    request = await _locked_visible(db, user, request_id)
    if request.status is RequestStatus.CONNECTED:
        return request
    if request.status is not RequestStatus.ACCEPTED:
        raise Conflict("Kein laufender Anruf. / No call in progress.", code="no_call")
    request.status = RequestStatus.CONNECTED
    request.connected_at = now
    request.version += 1
    call = await call_service.get_for_request(db=db, request_id=request.id)
    if call is not None:
        await call_service.mark_connected(db=db, call=call)
    await db.flush()
    for party in (request.caseworker_id, request.interpreter_id):
        if party is not None:
            realtime.notify(db, party, dispatch.status_event(request))
    return request


async def end_call(*, db: AsyncSession, user: User, request_id: int, settings: Settings,
                   now: datetime) -> InterpretingRequest:
    """End the call: completed (failed if it never connected), ledger row, interpreter to wrap-up."""
    request = await _locked_visible(db, user, request_id)
    if request.status in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        return request  # the other party ended it a moment earlier
    if request.status not in IN_CALL:
        raise Conflict("Kein laufender Anruf. / No call in progress.", code="no_call")
    request.status = RequestStatus.COMPLETED if request.connected_at else RequestStatus.FAILED
    request.ended_at = now
    request.version += 1
    await db.execute(update(Offer).where(Offer.request_id == request.id, Offer.status == OfferStatus.ACCEPTED)
                     .values(closed_at=now).execution_options(synchronize_session=False))
    call = await call_service.get_for_request(db=db, request_id=request.id)
    if call is not None:
        await call_service.end(db=db, call=call, now=now)
    await db.flush()
    if request.interpreter_id is not None:
        await start_wrap_up(db=db, interpreter_id=request.interpreter_id, request=request,
                            settings=settings, now=now)
    await ledger_service.record_final(db=db, request=request)
    for party in (request.caseworker_id, request.interpreter_id):
        if party is not None:
            realtime.notify(db, party, dispatch.status_event(request))
    return request


async def start_wrap_up(*, db: AsyncSession, interpreter_id: int, request: InterpretingRequest,
                        settings: Settings, now: datetime) -> None:
    stmt = (select(InterpreterProfile).where(InterpreterProfile.user_id == interpreter_id)
            .with_for_update().execution_options(populate_existing=True))
    profile = (await db.execute(stmt)).scalar_one()
    if request.connected_at is not None and request.ended_at is not None:
        profile.minutes_since_break += round((request.ended_at - request.connected_at).total_seconds() / 60)
    if profile.status is InterpreterStatus.IN_SESSION:
        profile.status = InterpreterStatus.WRAP_UP if settings.wrap_up_seconds > 0 else dispatch.idle_status(profile)
        profile.status_changed_at = now
        if profile.status is not InterpreterStatus.WRAP_UP:
            profile.idle_since = now
            realtime.effects(db).wake = True
    await db.flush()
    event: dict[str, Any] = {"type": "interpreter-status", "status": profile.status.value,
                             "wrap_up_seconds": settings.wrap_up_seconds}
    if profile.minutes_since_break >= profile.max_session_minutes:
        event.update(reason="break_suggested", message="Bitte machen Sie eine Pause, bevor Sie das nächste "
                     "Angebot annehmen. / Please take a break before the next offer.")
    realtime.notify(db, interpreter_id, event)


async def rate(*, db: AsyncSession, user: User, request_id: int, rating_in: RatingIn) -> InterpretingRequest:
    """Rate a finished call (1–5 and problem ticks); the ledger row gets the rating too."""
    request = await _locked_visible(db, user, request_id)
    if request.status not in (RequestStatus.COMPLETED, RequestStatus.FAILED):
        raise Conflict("Bewerten lässt sich nur ein beendeter Anruf. / Only a finished call can be rated.",
                       code="not_finished")
    request.rating = rating_in.rating
    request.rating_problems = ",".join(sorted({p.value for p in rating_in.problems})) or None
    await db.flush()
    await ledger_service.update_rating(db=db, request=request)
    return request
