"""Mails as a real SMTP server receives them: headers, both text parts, the iCalendar object."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from tests.conftest import World
from tests.notification.conftest import SUMMER_START, SmtpServer, booking, drain, give_addresses

BERLIN = ZoneInfo("Europe/Berlin")


def parts(message: EmailMessage) -> tuple[str, str, bytes | None, str | None]:
    """(plain text, HTML, .ics bytes, the calendar part's method parameter)."""
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    ics, method = None, None
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            ics, method = part.get_payload(decode=True), part.get_param("method")
    return plain.get_content(), html.get_content(), ics, method


async def test_booking_mail_in_german_with_ics_request(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """An assigned booking reaches the interpreter in German, with an .ics REQUEST in Berlin time."""
    await give_addresses(db, world)
    interpreter = world.users["interpreter"]
    await notification_service.enqueue(db=db, user_id=interpreter.id, kind=Kind.BOOKING_ASSIGNED,
                                       payload=booking(world, booking_id=41))
    await db.commit()
    await drain(sessionmaker, mail_settings)

    [message] = smtp.sink.messages
    assert smtp.sink.envelopes == [("noreply@vd.example", ["interpreter@example.org"])]
    assert message["From"] == "Videodolmetschen <noreply@vd.example>"
    assert message["To"].addresses[0].addr_spec == "interpreter@example.org"
    assert message["Subject"] == "Neuer Dolmetschtermin: Arabisch, 02.03.2026, 10:00"
    assert message["Message-ID"].endswith("@vd.example>")
    assert message["Content-Language"] == "de"
    assert message["Auto-Submitted"] == "auto-generated"
    plain, html, ics, method = parts(message)
    assert "Guten Tag Interpreter," in plain
    assert "Ausländerbehörde Erfurt" in plain and "Aufenthaltstitel" in plain
    assert "Montag, 2. März 2026, 10:00–11:00 Uhr" in plain
    assert '<html lang="de">' in html and "Ausländerbehörde Erfurt" in html
    assert "https://vd.example/" in plain and 'href="https://vd.example/"' in html

    assert ics is not None and method == "REQUEST"
    cal = Calendar.from_ical(ics)
    assert cal["METHOD"] == "REQUEST"
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == "booking-41@vd.example"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event.decoded("DTSTART") == datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
    assert event.decoded("DTEND") == datetime(2026, 3, 2, 11, 0, tzinfo=BERLIN)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(event["ORGANIZER"]) == "mailto:noreply@vd.example"
    assert str(event["ATTENDEE"]) == "mailto:interpreter@example.org"


async def test_cancellation_in_english_keeps_uid_and_raises_sequence(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """A confirmed then cancelled booking gives REQUEST then CANCEL with one UID, summer time, English."""
    await give_addresses(db, world, english=("caseworker_a",))
    caseworker = world.users["caseworker_a"]
    # The booking service stamps each event with the booking's version: its SEQUENCE.
    for kind, version in ((Kind.BOOKING_CONFIRMED, 2), (Kind.BOOKING_CANCELLED, 3)):
        payload = {**booking(world, booking_id=42, start=SUMMER_START), "sequence": version}
        await notification_service.enqueue(db=db, user_id=caseworker.id, kind=kind, payload=payload)
        await db.commit()
    await drain(sessionmaker, mail_settings)

    confirmed, cancelled = smtp.sink.messages
    assert confirmed["Subject"] == "Appointment confirmed: Arabic, Jul 6, 2026, 10:30"
    assert cancelled["Subject"] == "Appointment cancelled: Arabic, Jul 6, 2026, 10:30"
    plain, html, ics, method = parts(cancelled)
    assert "Hello Caseworker_A," in plain and "Residence permit" in plain
    assert "Monday, July 6, 2026, 10:30–11:30 (German time)" in plain
    assert '<html lang="en">' in html
    assert method == "CANCEL" and ics is not None
    first = Calendar.from_ical(parts(confirmed)[2]).walk("VEVENT")[0]
    second = Calendar.from_ical(ics).walk("VEVENT")[0]
    assert Calendar.from_ical(ics)["METHOD"] == "CANCEL" and str(second["STATUS"]) == "CANCELLED"
    assert str(first["UID"]) == str(second["UID"]) == "booking-42@vd.example"
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])
    assert second.decoded("DTSTART") == datetime(2026, 7, 6, 10, 30, tzinfo=BERLIN)
    assert second.decoded("DTSTART").utcoffset() == timedelta(hours=2)


async def test_mail_carries_no_personal_data_and_request_kinds_have_no_ics(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """An unfilled request mail names language, office and purpose only, and carries no calendar."""
    await give_addresses(db, world)
    payload = {"request_id": 9, "office_id": world.office_a.id, "language_code": "fa",
               "purpose": "other", "waited_seconds": 185}
    await notification_service.enqueue(db=db, user_id=world.users["caseworker_a"].id,
                                       kind=Kind.REQUEST_UNFILLED, payload=payload)
    await db.commit()
    await drain(sessionmaker, mail_settings)
    [message] = smtp.sink.messages
    plain, _html, ics, _method = parts(message)
    assert ics is None and list(message.iter_attachments()) == []
    assert message["Subject"] == "Keine Dolmetschung gefunden: Persisch"
    assert "Wartezeit:" in plain and "3 Min." in plain and "#9" in plain
