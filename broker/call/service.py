"""Call bookkeeping: the room of an accepted request, join information, guest links, the end.

Media never passes the server; a `Call` row only says which room belongs to which request,
until when it may be joined, and whether a one-time guest link was handed out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.call.models import Call
from broker.config import Settings
from broker.database import UTCDateTime, table
from broker.enums import CallStatus
from broker.live import effects
from broker.request.models import InterpretingRequest

_NOW = bindparam("now", type_=UTCDateTime())  # the action's moment in Core statements

COUNTER, INTERPRETER, GUEST = "counter", "interpreter", "guest"


def room_lifetime(settings: Settings) -> timedelta:
    """A room lives as long as the longest allowed appointment plus a margin."""
    return timedelta(minutes=settings.booking_max_minutes + 30)


async def get_for_request(*, db: AsyncSession, request_id: int) -> Call | None:
    return (await db.execute(select(Call).where(Call.request_id == request_id))).scalar_one_or_none()


_CALLS = table(Call).c
_INSERT = insert(table(Call))
_CONNECT = (update(table(Call))
            .where(_CALLS.request_id == bindparam("b_request_id"), _CALLS.status == CallStatus.WAITING)
            .values(status=CallStatus.ACTIVE))
_END = (update(table(Call))
        .where(_CALLS.request_id == bindparam("b_request_id"), _CALLS.status != CallStatus.ENDED)
        .values(status=CallStatus.ENDED, ended_at=_NOW)
        .returning(_CALLS.id))


async def open_for(*, db: AsyncSession, request: InterpretingRequest, settings: Settings,
                   now: datetime) -> Call:
    """Create the request's room and have both parties sent their join information after commit.

    One Core INSERT (the hot path of every accept); the returned `Call` is not in the session.
    """
    assert request.interpreter_id is not None
    values = {"id": secrets.token_urlsafe(18), "request_id": request.id, "status": CallStatus.WAITING,
              "created_at": now, "opens_at": now, "expires_at": now + room_lifetime(settings)}
    await db.execute(_INSERT, values)
    call = Call(**values)
    effects.pending(db).items.append(effects.Join(
        room_id=call.id, request_id=request.id, expires_at=call.expires_at,
        parties=((request.caseworker_id, COUNTER), (request.interpreter_id, INTERPRETER))))
    return call


async def reopen(*, db: AsyncSession, call: Call, request: InterpretingRequest, settings: Settings,
                 now: datetime) -> None:
    """Open an existing room again (a booking confirmed anew after its confirmed person withdrew)
    and send the current parties their join information after commit."""
    assert request.interpreter_id is not None
    call.status = CallStatus.WAITING
    call.ended_at = None
    call.expires_at = max(call.expires_at, now + room_lifetime(settings))
    await db.flush()
    effects.pending(db).items.append(effects.Join(
        room_id=call.id, request_id=request.id, expires_at=call.expires_at,
        parties=((request.caseworker_id, COUNTER), (request.interpreter_id, INTERPRETER))))


async def mark_connected(*, db: AsyncSession, call: Call) -> None:
    if call.status is CallStatus.WAITING:
        call.status = CallStatus.ACTIVE
        await db.flush()


async def connect_for_request(*, db: AsyncSession, request_id: int) -> None:
    """Media flows: the request's waiting call becomes active (one UPDATE, no read)."""
    await db.execute(_CONNECT, {"b_request_id": request_id})


async def end_for_request(*, db: AsyncSession, request_id: int, now: datetime, reason: str = "ended") -> None:
    """End the request's call if it has a live one; its room closes after commit. The reason
    reaches the browsers in the room (`escalated`: a no-show booking moved on to a new request)."""
    for (room_id,) in (await db.execute(_END, {"b_request_id": request_id, "now": now})).all():
        effects.pending(db).items.append(effects.Close(room_id, reason))


async def end(*, db: AsyncSession, call: Call, now: datetime) -> None:
    """End the call; the room closes after commit, so every join token becomes useless."""
    if call.status is CallStatus.ENDED:
        return
    call.status = CallStatus.ENDED
    call.ended_at = now
    await db.flush()
    effects.pending(db).items.append(effects.Close(call.id, "ended"))


async def remember_guest_link(*, db: AsyncSession, call: Call, token: str) -> None:
    """Store only the hash of the latest guest link; issuing a new one replaces it."""
    call.guest_token_hash = hashlib.sha256(token.encode()).hexdigest()
    await db.flush()
