"""Call bookkeeping: the room of an accepted request, join information, guest links, the end.

Media never passes the server; a `Call` row only says which room belongs to which request,
until when it may be joined, and whether a one-time guest link was handed out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.call.models import Call
from broker.config import Settings
from broker.database import UTCDateTime, table
from broker.enums import CallStatus
from broker.live import effects
from broker.live.effects import Realtime
from broker.request import lifecycle
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


def role_for(user_id: int, request: InterpretingRequest) -> str:
    """The seat of a party: the request's interpreter, or the counter (its caseworker or an
    office colleague who may see the request)."""
    return INTERPRETER if user_id == request.interpreter_id else COUNTER


def join_for(realtime: Realtime, *, user_id: int, request: InterpretingRequest, call: Call) -> dict[str, Any]:
    """The one join decision: the `call-join` event for this user in this request's call.

    Role from the request's parties, the room of its call (opened, idempotently: it may be the
    first join after a restart), a fresh token bound to (room, user, role), the ICE servers, and
    the request's media, so an audio-only request keeps both cameras off. Accept, `/join`, the
    replay on reconnect and the event after commit all come here.
    """
    role = role_for(user_id, request)
    realtime.open_room(call.id, expires_at=call.expires_at)
    token = realtime.issue_join_token(call.id, user_id=user_id, role=role, expires_at=call.expires_at)
    return {"type": "call-join", "request_id": request.id, "room_id": call.id, "role": role, "token": token,
            "expires_at": call.expires_at.isoformat(), "media": request.media.value,
            "ice_servers": realtime.ice_servers(user_id)}


async def joinable(*, db: AsyncSession, request: InterpretingRequest) -> Call | None:
    """The request's call if a party may (re)join it now: the request is in a call and the call
    has not ended."""
    if request.status not in lifecycle.JOINABLE:
        return None
    call = await get_for_request(db=db, request_id=request.id)
    return call if call is not None and call.ended_at is None else None


def _send_joins(db: AsyncSession, request: InterpretingRequest, call: Call) -> None:
    """After commit, both parties get their `call-join` (built then: the token needs the open room)."""
    assert request.interpreter_id is not None
    for party in (request.caseworker_id, request.interpreter_id):
        effects.pending(db).items.append(
            effects.Later(party, partial(join_for, user_id=party, request=request, call=call)))


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
    _send_joins(db, request, call)
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
    _send_joins(db, request, call)


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
