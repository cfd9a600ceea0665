"""End to end with the real booking service: create, confirm, cancel → mails with one calendar event."""

from __future__ import annotations

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking import service as booking_service
from broker.booking.schemas import BookingCreate
from broker.config import Settings
from tests.booking.conftest import at, booking_body, give_windows, working_day
from tests.conftest import World
from tests.notification.conftest import SmtpServer, drain, give_addresses


async def test_booking_lifecycle_mails_update_one_calendar_event(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """Assigned, confirmed and cancelled bookings mail the parties; every .ics shares the booking's UID."""
    await give_addresses(db, world)
    caseworker, interpreter = world.users["caseworker_a"], world.users["interpreter"]
    await give_windows(db, interpreter.id)
    await db.commit()
    start = at(working_day(), 10)
    booking = await booking_service.create(db=db, booking_in=BookingCreate.model_validate(booking_body(start)),
                                           caseworker=caseworker, settings=mail_settings)
    await db.commit()
    booking = await booking_service.confirm(db=db, booking=booking, interpreter=interpreter)
    await db.commit()
    await booking_service.cancel(db=db, booking=booking, actor=caseworker, settings=mail_settings)
    await db.commit()
    await drain(sessionmaker, mail_settings)

    got = [(m["To"].addresses[0].username, m["X-Videodolmetschen-Kind"]) for m in smtp.sink.messages]
    assert got == [("interpreter", "booking_assigned"),
                   ("caseworker_a", "booking_confirmed"), ("interpreter", "booking_confirmed"),
                   ("caseworker_a", "booking_cancelled"), ("interpreter", "booking_cancelled")]
    events = []
    for message in smtp.sink.messages:
        [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
        cal = Calendar.from_ical(part.get_payload(decode=True))
        events.append((str(cal["METHOD"]), cal.walk("VEVENT")[0]))
    assert [method for method, _ in events] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL", "CANCEL"]
    assert {str(e["UID"]) for _, e in events} == {f"booking-{booking.id}@vd.example"}
    assert all(e.decoded("DTSTART") == start for _, e in events)
    interpreter_seq = [int(e["SEQUENCE"]) for (_, e), (to, _kind) in zip(events, got, strict=True)
                       if to == "interpreter"]
    assert interpreter_seq == sorted(interpreter_seq) and len(set(interpreter_seq)) == 3
