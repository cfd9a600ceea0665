"""What the broker needs from the signalling hub, and the effects a transaction leaves behind.

Services never talk to sockets: they record effects (an event for a user, a room to open
with join tokens, a room to close) on the session. The session's commit (`broker.live.unit`)
publishes them after the database committed, so nobody hears of an offer that a rollback
took back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)
EFFECTS_KEY = "vd_effects"


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
class Later:
    """An event built only when it is sent: it needs the hub (a join token for a room it opens)."""

    user_id: int
    build: Callable[[Realtime], dict[str, Any]]


@dataclass(frozen=True)
class Close:
    room_id: str
    reason: str


@dataclass
class Effects:
    items: list[Note | Later | Close] = field(default_factory=list)
    wake: bool = False  # something became available: let the dispatcher look at the queue


def pending(db: AsyncSession) -> Effects:
    """The effects this session's open transaction recorded so far."""
    found = db.info.get(EFFECTS_KEY)
    if found is None:
        found = db.info[EFFECTS_KEY] = Effects()
    assert isinstance(found, Effects)
    return found


def notify(db: AsyncSession, user_id: int, event: dict[str, Any]) -> None:
    pending(db).items.append(Note(user_id, event))


def discard(db: AsyncSession) -> None:
    db.info.pop(EFFECTS_KEY, None)


async def publish(found: Effects, realtime: Realtime, wake: Callable[[], None] | None = None) -> None:
    """Send what a committed transaction recorded; a failing send is logged, never raised."""
    for item in found.items:
        try:
            if isinstance(item, Note):
                await realtime.notify(item.user_id, item.event)
            elif isinstance(item, Later):
                await realtime.notify(item.user_id, item.build(realtime))
            else:
                realtime.close_room(item.room_id, item.reason)
        except Exception:
            log.exception("could not publish %s", type(item).__name__)
    if found.wake and wake is not None:
        wake()
