"""The interpreter's iCalendar feed behind a secret, rotatable URL token.

Only the SHA-256 of the token is stored: the address is shown once when it is created, and a
new one makes the old address useless at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import utcnow
from broker.enums import RequestMode, RequestStatus
from broker.interpreter.models import InterpreterProfile
from broker.language.models import Language, Purpose
from broker.notification import mail
from broker.office.models import Office
from broker.request.models import InterpretingRequest

FEED_PATH = "/api/bookings/calendar/{token}.ics"
PAST_DAYS = 30
SHOWN = (RequestStatus.REQUESTED, RequestStatus.ASSIGNED, RequestStatus.OPEN, RequestStatus.CONNECTED,
         RequestStatus.COMPLETED, RequestStatus.CANCELLED, RequestStatus.ESCALATED)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate(*, db: AsyncSession, interpreter_id: int) -> str:
    """Give the interpreter a new feed token (returned in clear once); the old one stops working."""
    profile = await db.get(InterpreterProfile, interpreter_id)
    assert profile is not None
    token = secrets.token_urlsafe(32)
    profile.calendar_token = _digest(token)
    await db.flush()
    return token


async def interpreter_for(*, db: AsyncSession, token: str) -> int | None:
    if not token or len(token) > 100:
        return None
    stmt = select(InterpreterProfile.user_id).where(InterpreterProfile.calendar_token == _digest(token))
    return (await db.execute(stmt)).scalar_one_or_none()


async def feed(*, db: AsyncSession, interpreter_id: int, base_url: str) -> bytes:
    """The interpreter's bookings from a month ago on: language, office and purpose, no client data."""
    since = utcnow() - timedelta(days=PAST_DAYS)
    stmt = (
        select(InterpretingRequest, Language.name_de, Office.name, Purpose.name_de)
        .join(Language, Language.code == InterpretingRequest.language_code)
        .join(Office, Office.id == InterpretingRequest.office_id)
        .join(Purpose, Purpose.code == InterpretingRequest.purpose)
        .where(InterpretingRequest.mode == RequestMode.BOOKED,
               InterpretingRequest.interpreter_id == interpreter_id,
               InterpretingRequest.status.in_(SHOWN),
               InterpretingRequest.scheduled_end >= since)
        .order_by(InterpretingRequest.scheduled_start)
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Videodolmetschen Thüringen//Termine//DE")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Videodolmetschen – Termine")
    calendar.add("x-wr-timezone", "Europe/Berlin")
    now = utcnow()
    for booking, language, office, purpose in (await db.execute(stmt)).all():
        event = Event()
        # UID, SEQUENCE, STATUS and title as in the booking's mails: one event per booking.
        event.add("uid", mail.booking_uid(booking.id, base_url))
        event.add("dtstamp", now)
        event.add("dtstart", booking.scheduled_start)
        event.add("dtend", booking.scheduled_end)
        event.add("summary", mail.event_summary(language=language, office=office, locale="de"))
        event.add("description", f"Anliegen: {purpose}\n{base_url.rstrip('/')}/interpreter.html#booking-{booking.id}")
        event.add("status", mail.calendar_status(booking.status.value, "REQUEST"))
        event.add("sequence", booking.version)
        calendar.add_component(event)
    return bytes(calendar.to_ical())
