"""The dispatch engine: who gets an offer, and how interpreters are reserved and released.

Concurrency rules (they hold on SQLite and PostgreSQL, across processes):

* Lock order is request row → offer rows → interpreter profile rows. Every change to a
  request's offers first locks the request (`lock_request`, SELECT … FOR UPDATE on
  PostgreSQL; SQLite runs every transaction as BEGIN IMMEDIATE, so it is serialised anyway).
* An interpreter's profile `status` is the reservation: `offered` while exactly one offer is
  pending, `in_session` while an accepted offer is open. Candidates are picked with
  FOR UPDATE SKIP LOCKED among `available` profiles, so two dispatchers never wait for each
  other and never reserve the same person. The partial unique indexes on `offers` are the
  safety net under all of this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from broker.booking.models import BookingEscalation
from broker.config import DispatchStrategy, Settings, get_settings
from broker.database import UTCDateTime, table, utcnow
from broker.enums import (
    Gender,
    InterpreterStatus,
    OfferStatus,
    OfficeKind,
    Qualification,
    QualificationWish,
    RequestStatus,
)
from broker.interpreter import idle
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.ledger import service as ledger_service
from broker.live import effects
from broker.notification import hooks as notification_hooks
from broker.office.models import Office
from broker.request import lifecycle
from broker.request.models import InterpretingRequest, Offer
from broker.routing import live as routing_live
from broker.user.models import User

_NOW = bindparam("now", type_=UTCDateTime())  # the action's moment in Core statements

STATUS_EVENT = "request-status"

QUALIFICATION_RANK = case(
    {q.value: q.rank for q in Qualification}, value=InterpreterLanguage.qualification, else_=len(Qualification)
)
async def lock_request(db: AsyncSession, request_id: int, *,
                       skip_locked: bool = False) -> InterpretingRequest | None:
    """Load the request row locked for this transaction (None: missing, or busy with skip_locked)."""
    stmt = (select(InterpretingRequest).where(InterpretingRequest.id == request_id)
            .with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True))
    return (await db.execute(stmt)).scalar_one_or_none()


async def pending_offers(db: AsyncSession, request_id: int) -> list[Offer]:
    stmt = (select(Offer).where(Offer.request_id == request_id, Offer.status == OfferStatus.PENDING)
            .order_by(Offer.id).execution_options(populate_existing=True))
    return list((await db.execute(stmt)).scalars())


def _qualifications(wish: QualificationWish) -> list[Qualification] | None:
    if wish is QualificationWish.SWORN:
        return [Qualification.SWORN]
    if wish is QualificationWish.CERTIFIED:
        return [Qualification.SWORN, Qualification.CERTIFIED]
    return None


_ELIGIBLE: tuple[Any, ...] = (
    InterpreterProfile.status == InterpreterStatus.AVAILABLE,
    InterpreterProfile.online.is_(True),
    InterpreterProfile.wants_offers.is_(True),
    InterpreterProfile.minutes_since_break < InterpreterProfile.max_session_minutes,
    User.active.is_(True),
)


@lru_cache(maxsize=64)
def _candidates_stmt(gender: Gender | None, wish: QualificationWish, asked: bool, exists: bool) -> Any:
    """The candidate query for one shape of wishes, built once (bound: language_code, request_id).

    Statements are built once per shape because building and hashing the expression tree cost
    more CPU than running it on the hot path. Rows are (user_id, idle_since, qualification rank),
    unlocked: the routing policy orders them, then `live.lock_in_order` locks the chosen.
    """
    clauses: list[Any] = [InterpreterLanguage.language_code == bindparam("language_code"), *_ELIGIBLE]
    if asked:
        clauses.append(InterpreterProfile.user_id.not_in(
            select(Offer.interpreter_id).where(Offer.request_id == bindparam("request_id"))))
    if gender is not None:
        clauses.append(InterpreterProfile.gender == gender)
    allowed = _qualifications(wish)
    if allowed is not None:
        clauses.append(InterpreterLanguage.qualification.in_([q.value for q in allowed]))
    stmt = (select(InterpreterProfile.user_id, InterpreterProfile.idle_since, QUALIFICATION_RANK)
            .join(InterpreterLanguage, InterpreterLanguage.interpreter_id == InterpreterProfile.user_id)
            .join(User, User.id == InterpreterProfile.user_id)
            .where(*clauses))
    return stmt.limit(1) if exists else stmt


def _candidate_params(request: InterpretingRequest) -> dict[str, Any]:
    return {"language_code": request.language_code, "request_id": request.id}


async def pick(db: AsyncSession, request: InterpretingRequest, n: int, *, settings: Settings | None = None,
               now: datetime | None = None) -> list[int]:
    """Up to n eligible interpreters in the routing policy's order (VD_ROUTING_POLICY), locked."""
    settings = settings or get_settings()
    stmt = _candidates_stmt(request.wish_gender, request.wish_qualification, request.id is not None, False)
    rows = (await db.execute(stmt, _candidate_params(request))).all()
    return await routing_live.choose(db, rows=rows, language=request.language_code, n=n,
                                     policy=settings.routing_policy, now=now or utcnow(),
                                     wrap_up_seconds=settings.wrap_up_seconds)


async def has_candidate(db: AsyncSession, request: InterpretingRequest) -> bool:
    stmt = _candidates_stmt(request.wish_gender, request.wish_qualification, request.id is not None, True)
    return (await db.execute(stmt, _candidate_params(request))).first() is not None


def sync(obj: Any, values: dict[str, Any]) -> None:
    """Mirror values a Core UPDATE just wrote onto a loaded ORM object without marking it dirty."""
    for key, value in values.items():
        set_committed_value(obj, key, value)


def status_event(request: InterpretingRequest, **extra: Any) -> dict[str, Any]:
    return {"type": STATUS_EVENT, "request_id": request.id, "status": request.status.value, **extra}


def offer_event(offer: Offer, request: InterpretingRequest, office_kind: str | None, *,
                escalated_booking: bool) -> dict[str, Any]:
    """What the interpreter sees: office kind, language, purpose, media, priority, and whether
    it is a booking whose interpreter did not come (`escalated_booking`) — no personal data."""
    return {"type": "offer", "offer_id": offer.id, "request_id": request.id, "office_kind": office_kind,
            "language_code": request.language_code, "purpose": request.purpose,
            "media": request.media.value, "priority": request.priority.value,
            "mode": request.mode.value, "escalated_booking": escalated_booking,
            "expires_at": offer.expires_at.isoformat()}


_RESERVE = (update(table(InterpreterProfile))
            .where(table(InterpreterProfile).c.user_id.in_(bindparam("ids", expanding=True)),
                   table(InterpreterProfile).c.status == InterpreterStatus.AVAILABLE)
            .values(status=InterpreterStatus.OFFERED, status_changed_at=_NOW))
_INSERT_OFFER = insert(table(Offer)).returning(table(Offer).c.id, table(Offer).c.interpreter_id)
_OFFICE_KIND = select(Office.kind).where(Office.id == bindparam("office_id"))
_ESCALATED = select(BookingEscalation.booking_id).where(BookingEscalation.request_id == bindparam("request_id"))
_REQUESTS = table(InterpretingRequest).c
_UPDATE_REQUEST = table(InterpretingRequest).update().where(_REQUESTS.id == bindparam("request_id"))
_INSERT_REQUEST = insert(table(InterpretingRequest)).returning(_REQUESTS.id)


async def move(db: AsyncSession, request: InterpretingRequest, *,
               expected: Collection[RequestStatus] | None = None, **values: Any) -> bool:
    """Write a request's new status and values: the one place its version goes up.

    One Core UPDATE, mirrored on the object. The move must be one the lifecycle allows. With
    `expected`, the row changes only while it is still in one of those statuses at the version
    the caller read (for callers without the row lock); the result says whether it changed.
    """
    if expected is not None and request.status not in expected:
        return False  # the caller's copy already says no; the row (same version) would not match either
    lifecycle.require(request.mode, request.status, values.get("status", request.status))
    values["version"] = request.version + 1
    if expected is None:
        await db.execute(_UPDATE_REQUEST, {"request_id": request.id, **values})
    else:
        stmt = (update(table(InterpretingRequest))
                .where(_REQUESTS.id == request.id, _REQUESTS.status.in_(list(expected)),
                       _REQUESTS.version == request.version).values(**values))
        if (await db.execute(stmt)).rowcount != 1:  # type: ignore[attr-defined]
            return False
    sync(request, values)
    return True


async def _insert(db: AsyncSession, request: InterpretingRequest, values: dict[str, Any]) -> None:
    """Insert a new request with its first status (one Core INSERT; the object stays out of the session)."""
    sync(request, {**values, "version": 1})
    row = {c.key: getattr(request, c.key) for c in table(InterpretingRequest).columns if c.key != "id"}
    request.id = (await db.execute(_INSERT_REQUEST, row)).scalar_one()


def offers_wanted(settings: Settings) -> int:
    """How many offers ring at once: the dispatch strategy, decided here only."""
    return settings.ring_size if settings.dispatch_strategy is DispatchStrategy.RING else 1


async def office_kind(db: AsyncSession, office_id: int) -> str | None:
    kind: OfficeKind | None = (await db.execute(_OFFICE_KIND, {"office_id": office_id})).scalar_one_or_none()
    return None if kind is None else kind.value


async def offer_to(db: AsyncSession, *, request_id: int, ids: list[int], settings: Settings,
                   now: datetime) -> list[Offer]:
    """Reserve the (locked) interpreters and insert their pending offers: two statements, no ORM flush."""
    await db.execute(_RESERVE, {"ids": ids, "now": now})
    expires = now + timedelta(seconds=settings.offer_timeout_seconds)
    rows = [{"request_id": request_id, "interpreter_id": i, "status": OfferStatus.PENDING, "created_at": now,
             "expires_at": expires} for i in ids]
    result = (await db.execute(_INSERT_OFFER, rows[0] if len(rows) == 1 else rows)).all()
    return [Offer(id=offer_id, request_id=request_id, interpreter_id=who, status=OfferStatus.PENDING,
                  created_at=now, expires_at=expires) for offer_id, who in result]


async def escalated_booking(db: AsyncSession, request_id: int) -> bool:
    """True if the request carries the need of a booking whose interpreter did not come."""
    return (await db.execute(_ESCALATED, {"request_id": request_id})).first() is not None


def announce(db: AsyncSession, request: InterpretingRequest, offers: list[Offer], kind: str | None,
             before: RequestStatus | None, *, escalated: bool = False) -> None:
    for offer in offers:
        # The console shows the server's status, never its own guess: tell it the offer holds it.
        effects.notify(db, offer.interpreter_id, {"type": "interpreter-status",
                                                   "status": InterpreterStatus.OFFERED.value})
        effects.notify(db, offer.interpreter_id, offer_event(offer, request, kind, escalated_booking=escalated))
    if request.status is not before:
        effects.notify(db, request.caseworker_id, status_event(request))


Nobody = Callable[[], Awaitable[None]]


async def dispatch(*, db: AsyncSession, request: InterpretingRequest, settings: Settings, now: datetime,
                   kind: str | None = None, nobody: Nobody | None = None) -> list[Offer]:
    """Offer a waiting request to as many eligible interpreters as the strategy allows.

    The request is locked by the caller — or new (no id yet): then it is inserted here, already
    `offered` when someone was found, so a request's first offer takes the same path as every
    later one. For a new request that found nobody, `nobody()` runs before anything is written
    (the create route refuses there when no one speaks the language at all).
    """
    if request.status not in lifecycle.WAITING:
        return []
    new = request.id is None
    late = request.deadline_at is not None and request.deadline_at <= now
    if late and not new:
        await finish_unfilled(db=db, request=request, now=now)
        return []
    # A request never offered has no pending offer: spare the query on the hot path (create).
    pending = len(await pending_offers(db, request.id)) if request.offers_made else 0
    wanted = 0 if late else offers_wanted(settings) - pending
    ids = await pick(db, request, wanted, settings=settings, now=now) if wanted > 0 else []
    if new and not ids and nobody is not None:
        await nobody()
    before = request.status
    values: dict[str, Any] = {"status": RequestStatus.OFFERED if pending or ids else RequestStatus.QUEUED}
    if ids:
        values.update(first_offered_at=request.first_offered_at or now, offers_made=request.offers_made + len(ids))
    if not new:
        await move(db, request, **values)
    else:
        await _insert(db, request, values)
        if late:  # no waiting allowed at all
            await finish_unfilled(db=db, request=request, now=now)
            return []
    offers = await offer_to(db, request_id=request.id, ids=ids, settings=settings, now=now) if ids else []
    if offers and kind is None:
        kind = await office_kind(db, request.office_id)
    # A new request (create) is never an escalation: spare the query on that hot path.
    escalated = bool(offers) and not new and await escalated_booking(db, request.id)
    announce(db, request, offers, kind, before, escalated=escalated)
    return offers


async def release(db: AsyncSession, interpreter_ids: list[int], now: datetime) -> None:
    """Interpreters whose offer ended unaccepted fall back to available / away / offline."""
    if not interpreter_ids:
        return
    released = await db.execute(
        update(InterpreterProfile)
        .where(InterpreterProfile.user_id.in_(interpreter_ids),
               InterpreterProfile.status == InterpreterStatus.OFFERED)
        .values(status=idle.IDLE_STATUS, status_changed_at=now)
        .returning(InterpreterProfile.user_id, InterpreterProfile.status)
        .execution_options(synchronize_session=False)
    )
    for user_id, status in released.all():
        effects.notify(db, user_id, {"type": "interpreter-status", "status": InterpreterStatus(status).value})
    effects.pending(db).wake = True


async def close_offers(db: AsyncSession, offers: list[Offer], status: OfferStatus, now: datetime,
                       reason: str) -> None:
    """End pending offers (revoked / declined / expired), tell and release their interpreters."""
    for offer in offers:
        offer.status = status
        offer.closed_at = now
        if status is OfferStatus.DECLINED:
            offer.responded_at = now
        effects.notify(db, offer.interpreter_id, {"type": "offer-revoked", "offer_id": offer.id,
                                                   "request_id": offer.request_id, "reason": reason})
    await db.flush()
    await release(db, [o.interpreter_id for o in offers], now)


async def finish_unfilled(*, db: AsyncSession, request: InterpretingRequest, now: datetime) -> None:
    """Nobody accepted within the maximum wait: unmet demand; offer a booking or a callback."""
    await close_offers(db, await pending_offers(db, request.id), OfferStatus.REVOKED, now, "unfilled")
    await move(db, request, status=RequestStatus.UNFILLED, ended_at=now)
    await ledger_service.record_final(db=db, request=request)
    effects.notify(db, request.caseworker_id, status_event(request, options=["booking", "callback"]))
    await notification_hooks.request_unfilled(db, request, now)  # e-mail, same transaction


def new_deadline(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.max_wait_seconds)


URGENT_FIRST = case((InterpretingRequest.priority == "urgent", 0), else_=1)
