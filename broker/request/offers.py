"""The offer lifecycle: pending → accepted | declined | expired | revoked.

Every function locks the offer's request first (see `dispatch` for the lock order), then
re-reads the offer, so of two racing actions exactly one sees it pending.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking.models import BookingEscalation
from broker.call import service as call_service
from broker.call.models import Call
from broker.config import Settings
from broker.database import UTCDateTime, table
from broker.enums import InterpreterStatus, OfferStatus, RequestStatus
from broker.errors import Conflict, NotFound
from broker.interpreter import idle
from broker.interpreter.models import InterpreterProfile
from broker.live import effects
from broker.office.models import Office
from broker.request import dispatch, lifecycle
from broker.request.models import InterpretingRequest, Offer
from broker.user.models import User

_NOW = bindparam("now", type_=UTCDateTime())  # the action's moment in Core statements

OFFER_NOT_FOUND = "Offer not found."


def _gone(offer: Offer) -> Conflict:
    return _gone_status(offer.status)


def _gone_status(offer_status: OfferStatus) -> Conflict:
    words = {
        OfferStatus.ACCEPTED: "was already accepted",
        OfferStatus.DECLINED: "was declined",
        OfferStatus.EXPIRED: "has expired",
        OfferStatus.REVOKED: "was withdrawn (taken by someone else or cancelled)",
        OfferStatus.PENDING: "has expired",
    }
    status = "expired" if offer_status is OfferStatus.PENDING else offer_status.value
    return Conflict(f"The offer {words[offer_status]}.", code=f"offer_{status}")


async def _own_pending(db: AsyncSession, offer_id: int, user: User,
                       now: datetime) -> tuple[Offer, InterpretingRequest]:
    """The user's offer, still pending, with its request locked; 404 (also for someone else's) / 409."""
    offer = await db.get(Offer, offer_id)
    if offer is None or offer.interpreter_id != user.id:  # the same 404: ids cannot be probed
        raise NotFound(OFFER_NOT_FOUND)
    request = await dispatch.lock_request(db, offer.request_id)
    assert request is not None
    await db.refresh(offer)
    if offer.status is not OfferStatus.PENDING or offer.expires_at <= now:
        raise _gone(offer)
    return offer, request


_OFFERS = table(Offer).c
# The offer's request, locked (request first: the lock order), with the offer's owner.
_LOCK_FOR_OFFER = (select(InterpretingRequest, Offer.interpreter_id)
                   .join(Offer, Offer.request_id == InterpretingRequest.id)
                   .where(Offer.id == bindparam("offer_id"))
                   .with_for_update(of=InterpretingRequest).execution_options(populate_existing=True))
# Of two racing actions exactly one sees the offer pending (re-evaluated after a row lock wait).
_TAKE = (update(table(Offer))
         .where(_OFFERS.id == bindparam("offer_id"), _OFFERS.status == OfferStatus.PENDING,
                _OFFERS.expires_at > _NOW)
         .values(status=OfferStatus.ACCEPTED, responded_at=_NOW)
         .returning(_OFFERS.expires_at, _OFFERS.created_at))
_OFFER_STATUS = select(_OFFERS.status).where(_OFFERS.id == bindparam("offer_id"))
_REVOKE_OTHERS = (update(table(Offer))
                  .where(_OFFERS.request_id == bindparam("b_request_id"), _OFFERS.status == OfferStatus.PENDING)
                  .values(status=OfferStatus.REVOKED, closed_at=_NOW)
                  .returning(_OFFERS.id, _OFFERS.interpreter_id))
_PROFILES = table(InterpreterProfile).c
_IN_SESSION = (update(table(InterpreterProfile))
               .where(_PROFILES.user_id == bindparam("b_user_id"), _PROFILES.status == InterpreterStatus.OFFERED)
               .values(status=InterpreterStatus.IN_SESSION, status_changed_at=_NOW, missed_offers=0))


async def accept(*, db: AsyncSession, offer_id: int, user: User, settings: Settings,
                 now: datetime) -> tuple[Offer, InterpretingRequest, Call]:
    """First accept wins: the request gets its interpreter and a room; every other offer is revoked.

    Conditional Core UPDATEs under the request's row lock (no ORM flush on this hot path);
    the partial unique indexes on `offers` stay the safety net.
    """
    found = (await db.execute(_LOCK_FOR_OFFER, {"offer_id": offer_id})).first()
    if found is None or found[1] != user.id:  # someone else's offer looks exactly like a missing one
        raise NotFound(OFFER_NOT_FOUND)
    request = found[0]
    taken = (await db.execute(_TAKE, {"offer_id": offer_id, "now": now})).first()
    if taken is None:
        raise _gone_status((await db.execute(_OFFER_STATUS, {"offer_id": offer_id})).scalar_one())
    if request.status is not RequestStatus.OFFERED:
        raise Conflict("The request is no longer waiting.",
                       code="request_not_waiting")
    others = (await db.execute(_REVOKE_OTHERS, {"b_request_id": request.id, "now": now})).all()
    for other_id, other_interpreter in others:
        effects.notify(db, other_interpreter, {"type": "offer-revoked", "offer_id": other_id,
                                                "request_id": request.id, "reason": "taken"})
    await dispatch.release(db, [who for _id, who in others], now)
    result = await db.execute(_IN_SESSION, {"b_user_id": user.id, "now": now})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("You are no longer available.", code="not_available")
    await dispatch.move(db, request, status=RequestStatus.ACCEPTED, interpreter_id=user.id, accepted_at=now)
    call = await call_service.open_for(db=db, request=request, settings=settings, now=now)
    effects.notify(db, user.id, {"type": "interpreter-status", "status": InterpreterStatus.IN_SESSION.value})
    effects.notify(db, request.caseworker_id, dispatch.status_event(request))
    offer = Offer(id=offer_id, request_id=request.id, interpreter_id=user.id, status=OfferStatus.ACCEPTED,
                  created_at=taken.created_at, expires_at=taken.expires_at, responded_at=now)
    return offer, request, call


async def decline(*, db: AsyncSession, offer_id: int, user: User, settings: Settings,
                  now: datetime) -> Offer:
    """Decline; the request cascades to the next eligible interpreter in the same transaction."""
    offer, request = await _own_pending(db, offer_id, user, now)
    await dispatch.close_offers(db, [offer], OfferStatus.DECLINED, now, "declined")
    await db.execute(update(InterpreterProfile).where(InterpreterProfile.user_id == user.id)
                     .values(missed_offers=0).execution_options(synchronize_session=False))
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return offer


async def expire_due(*, db: AsyncSession, request_id: int, settings: Settings, now: datetime) -> int:
    """Expire the request's overdue offers, count misses (→ away), cascade; returns offers expired."""
    request = await dispatch.lock_request(db, request_id, skip_locked=True)
    if request is None:
        return 0
    due = [o for o in await dispatch.pending_offers(db, request_id) if o.expires_at <= now]
    if not due:
        if request.status in lifecycle.WAITING:
            await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
        return 0
    await dispatch.close_offers(db, due, OfferStatus.EXPIRED, now, "expired")
    await count_misses(db, [o.interpreter_id for o in due], settings, now)
    await dispatch.dispatch(db=db, request=request, settings=settings, now=now)
    return len(due)


async def count_misses(db: AsyncSession, interpreter_ids: list[int], settings: Settings, now: datetime) -> None:
    """Three (setting) consecutive missed offers switch an interpreter to away, with a notice."""
    stmt = (select(InterpreterProfile).where(InterpreterProfile.user_id.in_(interpreter_ids))
            .order_by(InterpreterProfile.user_id).with_for_update()
            .execution_options(populate_existing=True))
    for profile in (await db.execute(stmt)).scalars():
        profile.missed_offers += 1
        if profile.missed_offers >= settings.missed_offers_before_away:
            profile.missed_offers = 0
            profile.wants_offers = False
            if profile.status is InterpreterStatus.AVAILABLE:
                profile.status = idle.idle_status(profile)
                profile.status_changed_at = now
            effects.notify(db, profile.user_id, {
                "type": "interpreter-status", "status": profile.status.value, "reason": "missed_offers",
                "message": "You missed several offers and are now set to away."})
    await db.flush()


async def pending_for(*, db: AsyncSession,
                      interpreter_id: int) -> list[tuple[Offer, InterpretingRequest, str | None, bool]]:
    """The interpreter's pending offers with their requests, the requesting office's kind, and
    whether the request carries an escalated booking."""
    stmt = (select(Offer, InterpretingRequest, Office.kind, BookingEscalation.booking_id)
            .join(InterpretingRequest, InterpretingRequest.id == Offer.request_id)
            .join(Office, Office.id == InterpretingRequest.office_id)
            .outerjoin(BookingEscalation, BookingEscalation.request_id == InterpretingRequest.id)
            .where(Offer.interpreter_id == interpreter_id, Offer.status == OfferStatus.PENDING))
    return [(o, r, k.value if k is not None else None, booking is not None)
            for o, r, k, booking in (await db.execute(stmt)).all()]
