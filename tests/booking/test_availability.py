"""Availability: weekly windows minus absences, Thuringian holidays and existing bookings."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import availability, slots
from broker.enums import RequestMode, RequestStatus
from broker.interpreter.models import Absence, AvailabilityWindow
from broker.request.models import InterpretingRequest
from tests.booking.conftest import at, calendar_without, give_windows, working_day
from tests.conftest import World


def test_thuringian_holidays_include_christmas_reformation_day_and_childrens_day() -> None:
    """25/26 Dec, Reformationstag (31 Oct) and Weltkindertag (20 Sep) are public holidays in Thuringia."""
    for day in (date(2026, 12, 25), date(2026, 12, 26), date(2026, 10, 31), date(2026, 9, 20)):
        assert availability.holiday_name(day) is not None, day
    assert availability.holiday_name(date(2026, 12, 23)) is None


def test_availability_and_the_days_free_times_read_one_holiday_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    """Taking Christmas Day out of the calendar (as near-now booking tests do for today and tomorrow)
    reaches both readers, and leaves Boxing Day a holiday in German and English."""
    assert slots.holiday_names(date(2026, 12, 25)) == {"de": "Erster Weihnachtstag", "en": "Christmas Day"}
    monkeypatch.setattr(availability, "thuringian_holidays", calendar_without({date(2026, 12, 25)}))
    assert availability.holiday_name(date(2026, 12, 25)) is None and slots.holiday_names(date(2026, 12, 25)) is None
    assert availability.holiday_name(date(2026, 12, 26)) == "Zweiter Weihnachtstag"
    assert slots.holiday_names(date(2026, 12, 26)) == {"de": "Zweiter Weihnachtstag", "en": "Second Day of Christmas"}


def test_windows_are_local_time_across_daylight_saving() -> None:
    """A 09:00–12:00 Berlin window admits 09:00 local in winter (08:00 UTC) and summer (07:00 UTC)."""
    windows = [AvailabilityWindow(weekday=wd, start_time=time(9), end_time=time(12)) for wd in range(7)]
    for day in (date(2027, 1, 12), date(2027, 7, 13)):
        assert availability.within_windows(windows, at(day, 9), at(day, 10))
        assert not availability.within_windows(windows, at(day, 8, 30), at(day, 9, 30))


def test_adjacent_windows_merge() -> None:
    """A slot spanning two touching windows (08–12, 12–16) is inside the availability."""
    day = date(2027, 1, 12)
    windows = [AvailabilityWindow(weekday=day.weekday(), start_time=time(8), end_time=time(12)),
               AvailabilityWindow(weekday=day.weekday(), start_time=time(12), end_time=time(16))]
    assert availability.within_windows(windows, at(day, 11), at(day, 13))


def test_a_slot_over_midnight_fits_an_evening_window_that_runs_on_into_the_next_morning() -> None:
    """Tue 20:00–23:59 (a time field's 'until midnight') and Wed 00:00–02:00 admit Tue 23:30–Wed 00:30."""
    tuesday = date(2027, 1, 12)
    wednesday = tuesday + timedelta(days=1)
    evening = AvailabilityWindow(weekday=tuesday.weekday(), start_time=time(20), end_time=time(23, 59))
    morning = AvailabilityWindow(weekday=wednesday.weekday(), start_time=time(0), end_time=time(2))
    assert availability.within_windows([evening, morning], at(tuesday, 23, 30), at(wednesday, 0, 30))
    assert availability.within_windows([evening], at(tuesday, 23, 30), at(wednesday, 0, 0))  # ends at midnight
    assert not availability.within_windows([evening], at(tuesday, 23, 30), at(wednesday, 0, 30))
    late_morning = AvailabilityWindow(weekday=wednesday.weekday(), start_time=time(0, 15), end_time=time(2))
    assert not availability.within_windows([evening, late_morning], at(tuesday, 23, 30), at(wednesday, 0, 30))
    early_evening = AvailabilityWindow(weekday=tuesday.weekday(), start_time=time(20), end_time=time(23, 30))
    assert not availability.within_windows([early_evening, morning], at(tuesday, 23), at(wednesday, 0, 30))


async def _free(db: AsyncSession, world: World, start, end) -> list[int]:  # type: ignore[no-untyped-def]
    found = await availability.candidates(db=db, language_code="ar", start=start, end=end)
    return [c.user_id for c in found]


async def test_holiday_window_absence_and_booking_each_exclude(db: AsyncSession, interpreters: World) -> None:
    """Proposals drop interpreters on holidays, outside windows, when absent and when already booked."""
    world = interpreters
    one, two = world.users["interpreter"].id, world.users["interpreter_2"].id
    three = world.users["interpreter_3"].id
    day = working_day()
    start, end = at(day, 10), at(day, 11)
    assert set(await _free(db, world, start, end)) == {one, two, three}
    # Holidays: nobody, on Christmas and on Reformation Day.
    for holiday in (date(2026, 12, 25), date(2026, 12, 26), date(2026, 10, 31)):
        assert await _free(db, world, at(holiday, 10), at(holiday, 11)) == []
    # Absence of `one`; a booking of `two`; `three` only works afternoons.
    db.add(Absence(interpreter_id=one, starts_at=start - timedelta(hours=1), ends_at=start + timedelta(minutes=1)))
    db.add(InterpretingRequest(office_id=world.office_a.id, caseworker_id=world.users["caseworker_a"].id,
                               language_code="ar", purpose="other", mode=RequestMode.BOOKED,
                               status=RequestStatus.ASSIGNED, interpreter_id=two,
                               scheduled_start=start + timedelta(minutes=30), scheduled_end=end + timedelta(hours=1)))
    await db.execute(AvailabilityWindow.__table__.delete().where(AvailabilityWindow.interpreter_id == three))
    await give_windows(db, three, time(13), time(18))
    await db.flush()
    assert await _free(db, world, start, end) == []
    reasons = {uid: (await availability.check(db=db, interpreter_id=uid, start=start, end=end))
               for uid in (one, two, three)}
    assert {uid: r.reason for uid, r in reasons.items() if r} == {one: "absent", two: "booked", three: "no_window"}
    assert set(await _free(db, world, at(day, 14), at(day, 15))) == {one, two, three}
    await db.rollback()
