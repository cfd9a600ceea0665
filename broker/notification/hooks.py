"""Where the other areas' events become outbox rows, inside the event's own transaction.

`broker.booking.events.emit` calls `on_booking_event` for every booking event; dispatch
calls `request_unfilled` and `callback_ready` at the point where the request changes state.
Each call only adds rows; the caller's commit makes them real (or its rollback discards them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from broker.request.models import InterpretingRequest

EMAIL_KINDS = frozenset(k.value for k in Kind)


class BookingEventLike(Protocol):
    """The shape of `broker.booking.events.BookingEvent` (not imported: no cycle)."""

    @property
    def kind(self) -> str: ...
    @property
    def recipients(self) -> Iterable[int]: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def dedupe_key(self) -> str | None: ...
    @property
    def calendar(self) -> frozenset[int]: ...


async def on_booking_event(db: AsyncSession, event: BookingEventLike) -> None:
    """One outbox row per recipient for booking kinds that have an e-mail (others are realtime only)."""
    if event.kind not in EMAIL_KINDS:
        return
    for user_id in event.recipients:
        # dedupe keys are unique per row, so the event's key is made per recipient
        key = f"{event.dedupe_key}:{user_id}" if event.dedupe_key else None
        payload = {**event.payload, "calendar": user_id in event.calendar}
        await notification_service.enqueue(db=db, user_id=user_id, kind=event.kind,
                                           payload=payload, dedupe_key=key)


def request_payload(request: InterpretingRequest, *, waited_seconds: int | None = None) -> dict[str, Any]:
    return {"request_id": request.id, "office_id": request.office_id, "language_code": request.language_code,
            "purpose": request.purpose, "waited_seconds": waited_seconds}


async def request_unfilled(db: AsyncSession, request: InterpretingRequest, now: datetime) -> None:
    """Tell the caseworker that nobody was found within the maximum wait (once per request)."""
    waited = max(0, int((now - request.created_at).total_seconds()))
    await notification_service.enqueue(
        db=db, user_id=request.caseworker_id, kind=Kind.REQUEST_UNFILLED,
        payload=request_payload(request, waited_seconds=waited), dedupe_key=f"request_unfilled:{request.id}",
    )


async def callback_ready(db: AsyncSession, request: InterpretingRequest) -> None:
    """Tell the caseworker who asked for a callback that an interpreter for the language is free."""
    await notification_service.enqueue(db=db, user_id=request.caseworker_id, kind=Kind.CALLBACK_READY,
                                       payload=request_payload(request))
