"""The free start times of one day for a language: quarter hours inside the qualified
interpreters' real weekly windows (07:00 or 17:00 too), each with the people free then.

The day's facts (windows, absences, holding bookings of every qualified interpreter) are read
once; which quarter hours are free is then a pure function (`free_starts`), tested without a
database. A day that cannot be booked at all says why with a stable code the page translates:
`booking_in_past`, `booking_holiday` (with the holiday's German and English name),
`booking_too_long`, `booking_too_short`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import availability
from broker.booking.availability import BERLIN, HOLDING, Candidate
from broker.config import Settings
from broker.database import utcnow
from broker.enums import Gender, QualificationWish, RequestMode, Role
from broker.errors import Conflict, Invalid
from broker.interpreter.models import Absence, AvailabilityWindow, InterpreterLanguage, InterpreterProfile
from broker.language import service as language_service
from broker.request.models import InterpretingRequest
from broker.user.models import User

STEP = timedelta(minutes=15)
MIN_MINUTES = 5  # as BookingCreate


@dataclass(frozen=True)
class Person:
    """One qualified interpreter and what holds their time on the day."""

    candidate: Candidate
    windows: tuple[AvailabilityWindow, ...]
    busy: tuple[tuple[datetime, datetime], ...]  # absences and holding bookings


def holiday_names(day: date) -> dict[str, str] | None:
    """The Thuringian public holiday on `day` in German and English, if any."""
    names = {}
    for key, language in (("de", "de"), ("en", "en_US")):
        found = availability.thuringian_holidays(day.year, language).get(day)
        if found is None:
            return None
        names[key] = str(found)
    return names


def check_day(*, day: date, duration_minutes: int, settings: Settings, now: datetime) -> None:
    """Refuse a day or duration that can never be booked, with the reason as a stable code."""
    if duration_minutes < MIN_MINUTES:
        raise Invalid(f"A booking lasts at least {MIN_MINUTES} minutes.",
                      code="booking_too_short", loc=["query", "duration_minutes"], minimum=MIN_MINUTES)
    if duration_minutes > settings.booking_max_minutes:
        raise Invalid(f"A booking lasts at most {settings.booking_max_minutes} minutes.",
                      code="booking_too_long", loc=["query", "duration_minutes"],
                      maximum=settings.booking_max_minutes)
    if day < now.astimezone(BERLIN).date():
        raise Invalid("The day is in the past.",
                      code="booking_in_past", loc=["query", "date"])
    refuse_holiday(day)


def refuse_holiday(day: date) -> None:
    """409 `booking_holiday` naming the holiday (German and English names) if `day` is one in Thuringia."""
    if (names := holiday_names(day)) is not None:
        raise Conflict(f"{day:%Y-%m-%d} is a public holiday in Thuringia ({names['en']}).",
                       code="booking_holiday", holiday=names)


def free_starts(*, day: date, duration: timedelta, people: Sequence[Person],
                now: datetime) -> list[tuple[datetime, list[Candidate]]]:
    """Every quarter hour of `day` (local) after `now` at which someone is free for `duration`."""
    spans = [span for p in people for span in availability.day_spans(p.windows, day)]
    if not spans:
        return []
    first = min(s for s, _ in spans)
    last = max(e for _, e in spans)
    if last.date() > day:  # someone's window runs to midnight: a slot may go on into the next morning
        last += duration
    next_day_free = availability.holiday_name(day + timedelta(days=1)) is None
    out = []
    start = first.replace(minute=first.minute - first.minute % 15)
    while start + duration <= last and start.date() == day:
        begin, end = start.astimezone(UTC), (start + duration).astimezone(UTC)
        if begin > now and (next_day_free or len(availability.local_days(begin, end)) == 1):
            free = [p.candidate for p in people
                    if availability.within_windows(p.windows, begin, end)
                    and not any(b < end and e > begin for b, e in p.busy)]
            if free:
                out.append((begin, free))
        start += STEP
    return out


async def day_slots(*, db: AsyncSession, language_code: str, purpose: str, day: date, duration_minutes: int,
                    settings: Settings, wish_gender: Gender | None = None,
                    wish_qualification: QualificationWish = QualificationWish.ANY,
                    now: datetime | None = None) -> list[tuple[datetime, list[Candidate]]]:
    now = now or utcnow()
    check_day(day=day, duration_minutes=duration_minutes, settings=settings, now=now)
    await language_service.require_active(db=db, code=language_code)
    await language_service.require_purpose(db=db, code=purpose)
    stmt = (select(User.id, User.display_name, User.username, InterpreterLanguage.qualification,
                   InterpreterProfile.gender)
            .join(InterpreterProfile, InterpreterProfile.user_id == User.id)
            .join(InterpreterLanguage, InterpreterLanguage.interpreter_id == User.id)
            .where(User.role == Role.INTERPRETER, User.active.is_(True),
                   InterpreterLanguage.language_code == language_code))
    if wish_gender is not None:
        stmt = stmt.where(InterpreterProfile.gender == wish_gender)
    rows = [r for r in (await db.execute(stmt)).all() if availability.qualification_ok(r[3], wish_qualification)]
    ids = [r[0] for r in rows]
    day_start = datetime.combine(day, time(0), tzinfo=BERLIN).astimezone(UTC)
    # covers a slot going on after midnight and a summer-time change
    day_end = day_start + timedelta(days=1, hours=2, minutes=settings.booking_max_minutes)
    windows: dict[int, list[AvailabilityWindow]] = {i: [] for i in ids}
    for window in (await db.execute(select(AvailabilityWindow).where(
            AvailabilityWindow.interpreter_id.in_(ids)))).scalars():
        windows[window.interpreter_id].append(window)
    busy: dict[int, list[tuple[datetime, datetime]]] = {i: [] for i in ids}
    for who, begin, end in (await db.execute(select(Absence.interpreter_id, Absence.starts_at, Absence.ends_at).where(
            Absence.interpreter_id.in_(ids), Absence.starts_at < day_end, Absence.ends_at > day_start))).all():
        busy[who].append((begin, end))
    for holder, booked_start, booked_end in (await db.execute(select(
            InterpretingRequest.interpreter_id, InterpretingRequest.scheduled_start, InterpretingRequest.scheduled_end)
            .where(InterpretingRequest.mode == RequestMode.BOOKED, InterpretingRequest.interpreter_id.in_(ids),
                   InterpretingRequest.status.in_(HOLDING), InterpretingRequest.scheduled_start < day_end,
                   InterpretingRequest.scheduled_end > day_start))).all():
        if holder is not None and booked_start is not None and booked_end is not None:
            busy[holder].append((booked_start, booked_end))
    minutes = await availability.booked_minutes(db=db, interpreter_ids=ids, moment=day_start)
    people = [Person(candidate=Candidate(user_id=u, display_name=n, username=un, qualification=q, gender=g,
                                         booked_minutes=minutes.get(u, 0)),
                     windows=tuple(windows[u]), busy=tuple(busy[u]))
              for u, n, un, q, g in rows]
    found = free_starts(day=day, duration=timedelta(minutes=duration_minutes), people=people, now=now)
    for _, free in found:
        free.sort(key=lambda c: (c.booked_minutes, c.qualification.rank, c.user_id))
    return found
