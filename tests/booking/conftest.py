"""Booking fixtures: interpreters with weekly windows, and a future working day in Thuringia."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import availability
from broker.booking.availability import BERLIN, holiday_name
from broker.enums import Gender, Qualification, Role
from broker.interpreter.models import AvailabilityWindow, InterpreterProfile
from tests.conftest import World, add_user

ALL_DAY = (time(0, 0), time(23, 59, 59))


def working_day(after_days: int = 7) -> date:
    """A weekday at least `after_days` ahead that is no Thuringian holiday."""
    day = datetime.now(UTC).astimezone(BERLIN).date() + timedelta(days=after_days)
    while day.weekday() >= 5 or holiday_name(day):
        day += timedelta(days=1)
    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local Berlin wall-clock time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def within_a_day(hours: float, minutes: int = 60) -> datetime:
    """A start about `hours` from now (under 24 h) whose slot of `minutes` stays on one local day.

    A slot over midnight would also depend on the next day (its windows, whether it is a holiday),
    so a start whose slot would cross it moves to 00:05 of the next day: still under 24 h ahead."""
    start = (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)
    local = start.astimezone(BERLIN)
    if (local + timedelta(minutes=minutes)).date() != local.date():
        start = datetime.combine(local.date() + timedelta(days=1), time(0, 5), tzinfo=BERLIN).astimezone(UTC)
    return start


def calendar_without(days: set[date]) -> Callable[[int, str], Mapping[date, str]]:
    """Thuringia's real holiday calendar with `days` taken out."""
    real = availability.thuringian_holidays

    def calendar(year: int, language: str = "de") -> Mapping[date, str]:
        return {day: name for day, name in real(year, language).items() if day not in days}
    return calendar


@pytest.fixture
def calendar_without_holidays_near_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mocks the outside calendar: today and tomorrow (Berlin) count as working days even when they are
    Thuringian holidays, so a test that books minutes or hours ahead passes on 25 December too.
    Holiday tests use fixed dates and do not take this fixture."""
    today = datetime.now(UTC).astimezone(BERLIN).date()
    monkeypatch.setattr(availability, "thuringian_holidays", calendar_without({today, today + timedelta(days=1)}))


def booking_body(start: datetime, minutes: int = 60, **extra: object) -> dict[str, object]:
    return {"language_code": "ar", "purpose": "residence_permit", "start": start.isoformat(),
            "duration_minutes": minutes, **extra}


async def give_windows(db: AsyncSession, user_id: int, start: time = ALL_DAY[0], end: time = ALL_DAY[1],
                       weekdays: range = range(7)) -> None:
    for weekday in weekdays:
        db.add(AvailabilityWindow(interpreter_id=user_id, weekday=weekday, start_time=start, end_time=end))
    await db.flush()


@pytest.fixture
async def interpreters(db: AsyncSession, world: World) -> World:
    """Three Arabic interpreters available every day, all day: `interpreter`, `interpreter_2`, `interpreter_3`."""
    await give_windows(db, world.users["interpreter"].id)
    from broker.auth import service as auth_service

    for name, qualification, gender in (("interpreter_2", Qualification.SWORN, Gender.FEMALE),
                                        ("interpreter_3", Qualification.TRAINED, Gender.MALE)):
        user = await add_user(db, name, Role.INTERPRETER, languages={"ar": qualification})
        profile = await db.get(InterpreterProfile, user.id)
        assert profile is not None
        profile.gender = gender
        await give_windows(db, user.id)
        world.users[name] = user
        token = await auth_service.start_session(db=db, user=user, kind="bearer", hours=1)
        world.headers[name] = {"Authorization": f"Bearer {token}"}
    await db.commit()
    return world
