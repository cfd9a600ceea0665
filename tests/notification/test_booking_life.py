"""One booking's whole life through the real booking service, the real jobs and a real SMTP server
(aiosmtpd): every mail is parsed; all share one UID with the feed, SEQUENCE rises, and each has
the METHOD and STATUS its moment calls for."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking import calendar as calendar_service
from broker.booking import scheduled
from broker.booking import service as booking_service
from broker.booking.schemas import BookingCreate
from broker.config import Settings
from broker.request.models import InterpretingRequest
from broker.scheduler.runner import _RUNTIME, JobRuntime
from tests.booking.conftest import (  # noqa: F401  (fixtures)
    at,
    booking_body,
    calendar_without_holidays_near_now,
    interpreters,
    within_a_day,
    working_day,
)
from tests.conftest import World
from tests.notification.conftest import SmtpServer, drain, give_addresses


def ics_of(message: EmailMessage) -> tuple[str, Any] | None:
    """(METHOD, VEVENT) of the mail's calendar part, or None."""
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            cal = Calendar.from_ical(part.get_payload(decode=True))
            return str(cal["METHOD"]), cal.walk("VEVENT")[0]
    return None


async def run_job(job: Any, booking_id: int, sessionmaker: async_sessionmaker[AsyncSession],
                  settings: Settings) -> None:
    """Run a booking job through its real wrapper, as the scheduler would."""
    runtime = JobRuntime(sessionmaker=sessionmaker, settings=settings)
    token = _RUNTIME.set(runtime)
    try:
        await job(booking_id)
    finally:
        _RUNTIME.reset(token)


async def fresh(db: AsyncSession, booking_id: int) -> InterpretingRequest:
    booking = await booking_service.get(db=db, booking_id=booking_id, for_update=True)
    assert booking is not None
    return booking


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
@pytest.mark.parametrize("ending", ["cancel", "late_cancel", "no_show"])
async def test_one_booking_life_one_uid_rising_sequence_right_method_and_status(
    db: AsyncSession, interpreters: World, sessionmaker: async_sessionmaker[AsyncSession],  # noqa: F811
    mail_settings: Settings, smtp: SmtpServer, ending: str,
) -> None:
    """Assign, decline, re-assign, confirm, reminder, withdrawal, re-assign, confirm, then cancel /
    late cancel / no-show: each mail's .ics (if any) and the feed agree on one event."""
    world = interpreters
    await give_addresses(db, world)
    caseworker, first = world.users["caseworker_a"], world.users["interpreter"]
    by_id = {u.id: name for name, u in world.users.items()}
    start = within_a_day(hours=3) if ending == "late_cancel" \
        else at(working_day(), 10)
    body = BookingCreate.model_validate(booking_body(start, interpreter_id=first.id))
    booking = await booking_service.create(db=db, booking_in=body, caseworker=caseworker, settings=mail_settings)
    await db.commit()
    booking_id = booking.id

    # The first person declines before confirming; fair share picks the next.
    booking = await booking_service.release(db=db, booking=await fresh(db, booking_id), interpreter=first,
                                            settings=mail_settings)
    await db.commit()
    second = world.users[by_id[booking.interpreter_id or 0]]
    await booking_service.confirm(db=db, booking=await fresh(db, booking_id), interpreter=second,
                                  settings=mail_settings)
    await db.commit()
    await run_job(scheduled.remind_24h, booking_id, sessionmaker, mail_settings)
    # The confirmed person withdraws; the last one takes it and confirms.
    booking = await booking_service.release(db=db, booking=await fresh(db, booking_id), interpreter=second,
                                            settings=mail_settings)
    await db.commit()
    third = world.users[by_id[booking.interpreter_id or 0]]
    assert len({first.id, second.id, third.id}) == 3
    await booking_service.confirm(db=db, booking=await fresh(db, booking_id), interpreter=third,
                                  settings=mail_settings)
    await db.commit()
    if ending == "no_show":
        await run_job(scheduled.check_no_show, booking_id, sessionmaker, mail_settings)
    else:
        await booking_service.cancel(db=db, booking=await fresh(db, booking_id), actor=caseworker,
                                     settings=mail_settings)
        await db.commit()
    await drain(sessionmaker, mail_settings)

    final = {"cancel": "booking_cancelled", "late_cancel": "booking_late_cancelled",
             "no_show": "no_show_escalated"}[ending]
    seen = []
    for message in smtp.sink.messages:
        who = message["To"].addresses[0].username
        ics = ics_of(message)
        role = {first.id: "first", second.id: "second", third.id: "third"}.get(world.users[who].id, who)
        seen.append((role, message["X-Videodolmetschen-Kind"],
                     None if ics is None else (ics[0], str(ics[1]["STATUS"]))))
    expected = [
        ("first", "booking_assigned", ("REQUEST", "TENTATIVE")),
        ("first", "booking_declined", ("CANCEL", "CANCELLED")),
        ("second", "booking_assigned", ("REQUEST", "TENTATIVE")),
        ("caseworker_a", "booking_confirmed", ("REQUEST", "CONFIRMED")),
        ("second", "booking_confirmed", ("REQUEST", "CONFIRMED")),
        ("caseworker_a", "reminder_due", None),
        ("second", "reminder_due", None),
        ("second", "booking_declined", ("CANCEL", "CANCELLED")),
        ("third", "booking_assigned", ("REQUEST", "TENTATIVE")),
        ("caseworker_a", "booking_withdrawn", ("REQUEST", "TENTATIVE")),
        ("caseworker_a", "booking_confirmed", ("REQUEST", "CONFIRMED")),
        ("third", "booking_confirmed", ("REQUEST", "CONFIRMED")),
        ("caseworker_a", final, ("CANCEL", "CANCELLED")),
        ("third", final, ("CANCEL", "CANCELLED")),
    ]
    if ending == "no_show":
        expected.append(("admin", final, None))  # the admin is told, without a calendar entry
    assert seen == expected

    events = [ics[1] for ics in map(ics_of, smtp.sink.messages) if ics is not None]
    uid = f"booking-{booking_id}@vd.example"
    assert {str(e["UID"]) for e in events} == {uid}
    sequences = [int(e["SEQUENCE"]) for e in events]
    assert sequences == sorted(sequences), sequences  # never goes back, across every recipient
    for name in ("caseworker_a", first.username, second.username, third.username):
        mine = [int(ics[1]["SEQUENCE"]) for m in smtp.sink.messages
                if m["To"].addresses[0].username == name and (ics := ics_of(m)) is not None]
        assert mine == sorted(set(mine)), (name, mine)  # strictly rising for each calendar
    summaries = {str(e["SUMMARY"]) for e in events}
    assert summaries == {"Dolmetschtermin Arabisch – Ausländerbehörde Erfurt"}
    # No mail is written about the client, and none leaks the subject into the event title.
    assert not any("Kurzfristige Absage" in s for s in summaries)

    # The last interpreter's feed shows the same event: same UID, SEQUENCE of the last mail, cancelled.
    await fresh(db, booking_id)  # the no-show job changed the booking in its own session
    feed = Calendar.from_ical(await calendar_service.feed(db=db, interpreter_id=third.id,
                                                          base_url=mail_settings.public_base_url))
    [entry] = feed.walk("VEVENT")
    assert str(entry["UID"]) == uid and int(entry["SEQUENCE"]) == sequences[-1]
    assert str(entry["STATUS"]) == "CANCELLED" and str(entry["SUMMARY"]) in summaries
    for gone in (first, second):
        old = Calendar.from_ical(await calendar_service.feed(db=db, interpreter_id=gone.id,
                                                             base_url=mail_settings.public_base_url))
        assert old.walk("VEVENT") == []
