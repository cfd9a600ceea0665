"""The caseworker's booking journey through the API: free quarter hours from real availability,
the server's reasons for days that cannot be booked, names instead of codes, a late confirmation
that opens its room at once, nobody left after declines, and a no-show that names its follow-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking import scheduled
from broker.booking.availability import BERLIN
from broker.booking.models import BookingJobRun
from broker.booking.slots import Person, free_starts
from broker.call.models import Call
from broker.config import Settings
from broker.enums import Qualification
from broker.interpreter.models import AvailabilityWindow
from broker.notification.models import OutboxMessage
from tests.booking.conftest import at, booking_body, give_windows, within_a_day, working_day
from tests.conftest import World
from tests.notification.test_booking_life import run_job


async def book(client: httpx.AsyncClient, world: World, body: dict[str, object]) -> httpx.Response:
    return await client.post("/api/bookings", json=body, headers=world.auth("caseworker_a"))


def slots_query(day: date, minutes: int = 30, **extra: object) -> dict[str, object]:
    return {"language_code": "ar", "purpose": "residence_permit", "date": day.isoformat(),
            "duration_minutes": minutes, **extra}


async def test_slots_follow_real_windows_in_quarter_hours(
    db: AsyncSession, client: httpx.AsyncClient, world: World,
) -> None:
    """An interpreter working 07:00–09:00 and 17:00–18:00 is offered at 07:00, 07:15 … and 17:00, 17:30."""
    interpreter = world.users["interpreter"]
    day = working_day()
    await give_windows(db, interpreter.id, time(7), time(9), weekdays=range(day.weekday(), day.weekday() + 1))
    await give_windows(db, interpreter.id, time(17), time(18), weekdays=range(day.weekday(), day.weekday() + 1))
    await db.commit()
    response = await client.get("/api/bookings/slots", params=slots_query(day), headers=world.auth("caseworker_a"))
    assert response.status_code == 200, response.text
    starts = [datetime.fromisoformat(s["start"]).astimezone(BERLIN).strftime("%H:%M") for s in response.json()]
    assert starts == ["07:00", "07:15", "07:30", "07:45", "08:00", "08:15", "08:30", "17:00", "17:15", "17:30"]
    first = response.json()[0]
    assert datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"]) == timedelta(minutes=30)
    [proposal] = first["proposals"]
    # Two people with one display name can be told apart: user name and every language they interpret.
    assert proposal["username"] == "interpreter" and proposal["languages"] == ["ar", "fa"]
    assert proposal["qualification"] == Qualification.CERTIFIED.value


async def test_days_that_cannot_be_booked_say_why_with_a_code(
    client: httpx.AsyncClient, interpreters: World, unchanged,  # type: ignore[no-untyped-def]
) -> None:
    """Holiday (named in the detail, the German name for the page's message), past day, too long and
    0 minutes each get their own code."""
    world = interpreters
    auth = world.auth("caseworker_a")
    async with unchanged():
        children = await client.get("/api/bookings/slots", params=slots_query(date(2027, 9, 20)), headers=auth)
        past = await client.get("/api/bookings/slots", params=slots_query(date(2020, 3, 2)), headers=auth)
        long = await client.get("/api/bookings/slots", params=slots_query(working_day(), 600), headers=auth)
        zero = await client.get("/api/bookings/slots", params=slots_query(working_day(), 0), headers=auth)
    assert children.status_code == 409 and children.json()["code"] == "booking_holiday"
    assert children.json()["holiday"]["de"] == "Weltkindertag"
    assert "World Children's Day" in children.json()["detail"]  # server texts are English; pages translate
    assert past.status_code == 422 and past.json()["code"] == "booking_in_past"
    assert long.status_code == 422 and long.json()["code"] == "booking_too_long" and long.json()["maximum"] == 240
    assert zero.status_code == 422 and zero.json()["code"] == "booking_too_short"


def test_free_starts_skip_busy_people_and_the_past() -> None:
    """Pure: a quarter hour is offered while anyone is free for the whole duration, never before now."""
    from broker.booking.availability import Candidate

    day = date(2026, 3, 2)  # a Monday
    window = AvailabilityWindow(interpreter_id=1, weekday=0, start_time=time(8), end_time=time(10))
    busy_from = datetime.combine(day, time(8, 30), tzinfo=BERLIN).astimezone(UTC)
    person = Person(candidate=Candidate(1, "A", "a", Qualification.TRAINED, None, 0), windows=(window,),
                    busy=((busy_from, busy_from + timedelta(minutes=60)),))
    now = datetime.combine(day, time(7), tzinfo=BERLIN).astimezone(UTC)
    found = free_starts(day=day, duration=timedelta(minutes=30), people=[person], now=now)
    assert [s.astimezone(BERLIN).strftime("%H:%M") for s, _ in found] == ["08:00", "09:30"]
    later = datetime.combine(day, time(9, 31), tzinfo=BERLIN).astimezone(UTC)
    assert free_starts(day=day, duration=timedelta(minutes=30), people=[person], now=later) == []


def test_free_starts_go_on_past_midnight_into_a_next_morning_window_but_not_into_a_holiday() -> None:
    """Pure: 23:30 and 23:45 are offered for 30 minutes when the next morning's window starts at 00:00;
    on Christmas Eve the same evening stops at 23:30, because a slot may not reach into a holiday."""
    from broker.booking.availability import Candidate

    windows = tuple(AvailabilityWindow(interpreter_id=1, weekday=weekday, start_time=start, end_time=end)
                    for weekday in range(7) for start, end in ((time(0), time(1)), (time(22), time(23, 59))))
    person = Person(candidate=Candidate(1, "A", "a", Qualification.TRAINED, None, 0), windows=windows, busy=())

    def offered(day: date) -> list[str]:
        now = datetime.combine(day, time(7), tzinfo=BERLIN).astimezone(UTC)
        found = free_starts(day=day, duration=timedelta(minutes=30), people=[person], now=now)
        return [s.astimezone(BERLIN).strftime("%H:%M") for s, _ in found if s.astimezone(BERLIN).hour >= 22]

    assert offered(date(2026, 12, 8)) == ["22:00", "22:15", "22:30", "22:45", "23:00", "23:15", "23:30", "23:45"]
    assert offered(date(2026, 12, 24)) == ["22:00", "22:15", "22:30", "22:45", "23:00", "23:15", "23:30"]


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_bookings_read_with_names_and_whether_a_cancel_would_be_late(
    client: httpx.AsyncClient, interpreters: World,
) -> None:
    """The office's list names language, purpose, office and interpreter, and flags a cancel within 24 h."""
    world = interpreters
    far = await book(client, world, booking_body(at(working_day(), 10)))
    soon = within_a_day(hours=2)
    near = await book(client, world, booking_body(soon))
    assert far.status_code == 201 and near.status_code == 201, (far.text, near.text)
    page = (await client.get("/api/bookings", headers=world.auth("caseworker_a"))).json()
    listed = {b["id"]: b for b in page["items"]}
    entry = listed[far.json()["id"]]
    assert entry["language"]["name_de"] == "Arabisch" and entry["purpose_names"]["name_de"] == "Aufenthaltstitel"
    assert entry["office_name"] == "Ausländerbehörde Erfurt" and entry["interpreter_name"]
    assert entry["cancel_is_late"] is False and listed[near.json()["id"]]["cancel_is_late"] is True


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_late_confirmation_opens_the_room_even_after_the_room_job_ran(
    db: AsyncSession, client: httpx.AsyncClient, interpreters: World,
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
) -> None:
    """The room-open job ran on the unconfirmed booking; confirming inside the window opens the room now."""
    world = interpreters
    interpreter_id = world.users["interpreter"].id
    start = datetime.now(UTC) + timedelta(minutes=4)
    created = await book(client, world, booking_body(start, 30, interpreter_id=interpreter_id))
    booking_id = created.json()["id"]
    await run_job(scheduled.open_room, booking_id, sessionmaker, settings)
    ran = (await db.execute(select(BookingJobRun.job).where(BookingJobRun.request_id == booking_id))).scalars().all()
    assert list(ran) == ["room_open"]
    await db.rollback()  # end the read (SQLite: every transaction holds the write lock)
    assert (await client.get(f"/api/requests/{booking_id}/join", headers=world.auth("caseworker_a"))).status_code == 409

    confirmed = await client.post(f"/api/bookings/{booking_id}/confirm", headers=world.auth("interpreter"))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "open"
    assert (await db.execute(select(Call).where(Call.request_id == booking_id))).scalar_one() is not None
    await db.rollback()
    joined = await client.get(f"/api/requests/{booking_id}/join", headers=world.auth("caseworker_a"))
    assert joined.status_code == 200, joined.text
    # Outside the window a confirmation leaves the room to its job.
    later = await book(client, world, booking_body(at(working_day(), 10), 30, interpreter_id=interpreter_id))
    again = await client.post(f"/api/bookings/{later.json()['id']}/confirm", headers=world.auth("interpreter"))
    assert again.json()["status"] == "assigned"


async def test_when_everyone_declines_the_caseworker_is_told_nobody_was_found(
    db: AsyncSession, client: httpx.AsyncClient, interpreters: World,
) -> None:
    """Three declines: the booking waits with nobody, and the caseworker gets one 'nobody found' mail, no 'looking'."""
    world = interpreters
    created = await book(client, world, booking_body(at(working_day(), 10)))
    booking = created.json()
    by_id = {u.id: n for n, u in world.users.items()}
    for _ in range(3):
        booking = (await client.post(f"/api/bookings/{booking['id']}/decline",
                                     headers=world.auth(by_id[booking["interpreter_id"]]))).json()
        if booking["interpreter_id"] is None:
            break
    assert booking["status"] == "requested" and booking["interpreter_id"] is None
    kinds = (await db.execute(select(OutboxMessage.kind).where(
        OutboxMessage.user_id == world.users["caseworker_a"].id))).scalars().all()
    assert list(kinds) == ["booking_unassigned"]


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_no_show_names_its_follow_up_request(
    db: AsyncSession, client: httpx.AsyncClient, interpreters: World,
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
) -> None:
    """After the no-show check the booking is escalated and reads which on-demand request took over."""
    world = interpreters
    start = datetime.now(UTC) + timedelta(minutes=3)
    created = await book(client, world, booking_body(start, 30, interpreter_id=world.users["interpreter"].id))
    booking_id = created.json()["id"]
    await client.post(f"/api/bookings/{booking_id}/confirm", headers=world.auth("interpreter"))
    await run_job(scheduled.check_no_show, booking_id, sessionmaker, settings)
    read = (await client.get(f"/api/bookings/{booking_id}", headers=world.auth("caseworker_a"))).json()
    assert read["status"] == "escalated" and read["escalated_to"] is not None
    follow = await client.get(f"/api/requests/{read['escalated_to']}", headers=world.auth("caseworker_a"))
    assert follow.status_code == 200 and follow.json()["mode"] == "on_demand"
    call = (await db.execute(select(Call).where(Call.request_id == booking_id))).scalar_one()
    assert call.ended_at is not None  # the booking's empty room closed
