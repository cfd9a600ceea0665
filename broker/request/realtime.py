"""What the broker needs from the signalling hub, and the events a transaction leaves behind.

Services never talk to sockets: they record effects (an event for a user, a room to open
with join tokens, a room to close) on the session. The route or job wrapper commits and only
then publishes them, so nobody hears of an offer that a rollback took back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
EFFECTS_KEY = "vd_realtime_effects"


class Realtime(Protocol):
    """The part of `signaling.hub.Hub` the broker uses."""

    async def notify(self, user_id: int, event: dict[str, Any]) -> None: ...

    async def sign_out(self, user_id: int, session_id: int | None = None) -> None: ...

    def is_online(self, user_id: int) -> bool: ...

    def open_room(self, room_id: str, *, expires_at: datetime) -> None: ...

    def close_room(self, room_id: str, reason: str = "ended") -> object: ...

    def issue_join_token(self, room_id: str, *, user_id: int | None, role: str, expires_at: datetime) -> str: ...

    def ice_servers(self, user_id: int | str | None) -> list[dict[str, object]]: ...

    async def room_occupied(self, room_id: str) -> bool: ...


class NullRealtime:
    """No sockets (CLI, jobs without an app): events are dropped, tokens are placeholders."""

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:  # noqa: ARG002
        return None

    async def sign_out(self, user_id: int, session_id: int | None = None) -> None:  # noqa: ARG002
        return None

    def is_online(self, user_id: int) -> bool:  # noqa: ARG002
        return False

    def open_room(self, room_id: str, *, expires_at: datetime) -> None:  # noqa: ARG002
        return None

    def close_room(self, room_id: str, reason: str = "ended") -> object:  # noqa: ARG002
        return None

    def issue_join_token(self, room_id: str, *, user_id: int | None, role: str, expires_at: datetime) -> str:  # noqa: ARG002
        return ""

    def ice_servers(self, user_id: int | str | None) -> list[dict[str, object]]:  # noqa: ARG002
        return []

    async def room_occupied(self, room_id: str) -> bool:  # noqa: ARG002
        return True  # no rooms to look at: never take a call for abandoned


@dataclass(frozen=True)
class Note:
    user_id: int
    event: dict[str, Any]


@dataclass(frozen=True)
class Join:
    """Open a call's room, then send each party a `call-join` event with its own token."""

    room_id: str
    request_id: int
    expires_at: datetime
    parties: tuple[tuple[int, str], ...]  # (user id, seat role)


@dataclass(frozen=True)
class Close:
    room_id: str
    reason: str


@dataclass
class Effects:
    items: list[Note | Join | Close] = field(default_factory=list)
    wake: bool = False  # something became available: let the dispatcher look at the queue


def effects(db: AsyncSession) -> Effects:
    found = db.info.get(EFFECTS_KEY)
    if found is None:
        found = db.info[EFFECTS_KEY] = Effects()
    assert isinstance(found, Effects)
    return found


def notify(db: AsyncSession, user_id: int, event: dict[str, Any]) -> None:
    effects(db).items.append(Note(user_id, event))


def discard(db: AsyncSession) -> None:
    db.info.pop(EFFECTS_KEY, None)


def join_event(realtime: Realtime, *, room_id: str, request_id: int, user_id: int, role: str,
               expires_at: datetime) -> dict[str, Any]:
    """The `call-join` event: a fresh token bound to (room, user, role) and ICE servers."""
    token = realtime.issue_join_token(room_id, user_id=user_id, role=role, expires_at=expires_at)
    return {"type": "call-join", "request_id": request_id, "room_id": room_id, "role": role,
            "token": token, "expires_at": expires_at.isoformat(),
            "ice_servers": realtime.ice_servers(user_id)}


async def publish(db: AsyncSession, realtime: Realtime, wake: Callable[[], None] | None = None) -> None:
    """Send what the committed transaction recorded; a failing send is logged, never raised."""
    found = db.info.pop(EFFECTS_KEY, None)
    if not isinstance(found, Effects):
        return
    for item in found.items:
        try:
            if isinstance(item, Note):
                await realtime.notify(item.user_id, item.event)
            elif isinstance(item, Join):
                realtime.open_room(item.room_id, expires_at=item.expires_at)
                for user_id, role in item.parties:
                    await realtime.notify(user_id, join_event(
                        realtime, room_id=item.room_id, request_id=item.request_id, user_id=user_id,
                        role=role, expires_at=item.expires_at))
            else:
                realtime.close_room(item.room_id, item.reason)
        except Exception:
            log.exception("could not publish %s", type(item).__name__)
    if found.wake and wake is not None:
        wake()


async def commit(db: AsyncSession, realtime: Realtime, wake: Callable[[], None] | None = None) -> None:
    """Commit the action's transaction, then tell the people concerned."""
    try:
        await db.commit()
    except BaseException:
        discard(db)
        raise
    await publish(db, realtime, wake)
