"""Booking events: what happened to a booking, for whom.

`emit` writes the e-mail outbox rows inside the caller's transaction (so a mail exists if
and only if its change committed) and records a realtime note for each recipient, which the
session's commit publishes (`broker.live.unit`).

Kinds follow `broker.notification.kinds.Kind` where one exists; `booking_room_open` is
realtime only. Every payload carries the booking's version (the iCalendar SEQUENCE) and status,
and the event says whose calendar holds the booking, so only those recipients get an .ics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broker.live import effects
from broker.notification import hooks as notification_hooks
from broker.request.models import InterpretingRequest

BOOKING_ASSIGNED = "booking_assigned"  # to the interpreter: please confirm
BOOKING_CONFIRMED = "booking_confirmed"
BOOKING_DECLINED = "booking_declined"  # to the interpreter who declined
BOOKING_WITHDRAWN = "booking_withdrawn"  # to the caseworker: the confirmed person withdrew
BOOKING_UNASSIGNED = "booking_unassigned"  # declined and nobody else free: caseworker decides
BOOKING_CANCELLED = "booking_cancelled"
BOOKING_LATE_CANCELLED = "booking_late_cancelled"
REMINDER_DUE = "reminder_due"
BOOKING_ROOM_OPEN = "booking_room_open"
NO_SHOW_ESCALATED = "no_show_escalated"


@dataclass(frozen=True)
class BookingEvent:
    kind: str
    booking_id: int
    recipients: tuple[int, ...]
    # Matches `broker.notification.kinds.BookingPayload`: ids, codes and times, nothing personal.
    payload: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # realtime details (status, reminder, …)
    dedupe_key: str | None = None
    # Recipients whose calendar holds the booking (they were sent it before, or get it now).
    calendar: frozenset[int] = frozenset()


def payload_of(booking: InterpretingRequest) -> dict[str, Any]:
    return {"booking_id": booking.id, "office_id": booking.office_id,
            "language_code": booking.language_code, "purpose": booking.purpose,
            "start": booking.scheduled_start, "end": booking.scheduled_end,
            "sequence": booking.version, "status": booking.status.value}


async def emit(db: AsyncSession, kind: str, booking: InterpretingRequest, recipients: Iterable[int | None],
               *, extra: dict[str, Any] | None = None, dedupe_key: str | None = None,
               calendar: Iterable[int | None] | None = None) -> BookingEvent:
    """`calendar`: who holds the booking in their calendar (default: every recipient)."""
    users = tuple(dict.fromkeys(uid for uid in recipients if uid is not None))
    holders = frozenset(users if calendar is None else (uid for uid in calendar if uid is not None))
    event = BookingEvent(kind=kind, booking_id=booking.id, recipients=users, payload=payload_of(booking),
                         extra=extra or {}, dedupe_key=dedupe_key, calendar=holders)
    await notification_hooks.on_booking_event(db, event)  # e-mail outbox rows, same transaction
    wire = {key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in event.payload.items()}
    for user_id in users:
        effects.notify(db, user_id, {"type": "booking", "kind": kind, "status": booking.status.value,
                                      "interpreter_id": booking.interpreter_id, **wire, **event.extra})
    return event

