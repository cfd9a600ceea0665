"""Who can take a booking: qualified, inside a weekly window, not absent, not on a Thuringian
public holiday, not already booked — and, among those, who has the fewest booked minutes this
month (fair share).

Weekly windows are local times (Europe/Berlin); a slot is checked on its local dates, so the
switch to and from summer time is handled by zoneinfo, not by fixed offsets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import Gender, Qualification, QualificationWish, RequestMode, RequestStatus, Role
from broker.interpreter.models import Absence, AvailabilityWindow, InterpreterLanguage, InterpreterProfile
from broker.request.models import InterpretingRequest
from broker.user.models import User

BERLIN = ZoneInfo("Europe/Berlin")
# Statuses in which a booking holds its interpreter's time (a proposed, unconfirmed booking
# holds it too, so two caseworkers cannot be promised the same person).
HOLDING = (RequestStatus.REQUESTED, RequestStatus.ASSIGNED, RequestStatus.OPEN, RequestStatus.CONNECTED)
# Statuses whose minutes count for fair share.
COUNTED = (*HOLDING, RequestStatus.COMPLETED)


@lru_cache(maxsize=32)
def thuringian_holidays(year: int, language: str = "de") -> Mapping[date, str]:
    """Thuringia's public holidays of `year`, named in `language` ("de" or "en_US"): the one calendar
    that availability, the day's free times and the booking form read."""
    return holidays.country_holidays("DE", subdiv="TH", years=year, language=language)


def holiday_name(day: date) -> str | None:
    """The Thuringian public holiday on `day` in German, if any (e.g. Reformationstag, Weltkindertag)."""
    name = thuringian_holidays(day.year).get(day)
    return str(name) if name else None


def local_days(start: datetime, end: datetime) -> list[date]:
    """The local (Berlin) dates a slot touches."""
    first = start.astimezone(BERLIN).date()
    last = (end - timedelta(microseconds=1)).astimezone(BERLIN).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _merged(windows: Iterable[tuple[time, time]]) -> list[tuple[time, time]]:
    merged: list[tuple[time, time]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# A time field cannot say 24:00: a window that ends at 23:59 or later runs to midnight.
END_OF_DAY = time(23, 59)


def day_spans(windows: Iterable[AvailabilityWindow], day: date) -> list[tuple[datetime, datetime]]:
    """The merged weekly windows on local `day`, as local datetimes; one reaching END_OF_DAY ends at midnight."""
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)
    return [(datetime.combine(day, start, tzinfo=BERLIN),
             midnight if end >= END_OF_DAY else datetime.combine(day, end, tzinfo=BERLIN))
            for start, end in _merged((w.start_time, w.end_time) for w in windows if w.weekday == day.weekday())]


def within_windows(windows: Iterable[AvailabilityWindow], start: datetime, end: datetime) -> bool:
    """True if each local day's part of the slot lies inside one (merged) weekly window of that day.

    A slot over midnight therefore fits an interpreter whose evening window runs to the end of the
    day and whose next morning's window starts at 00:00 (an evening shift at a reception centre)."""
    local_start, local_end = start.astimezone(BERLIN), end.astimezone(BERLIN)
    for day in local_days(start, end):
        part_start = max(local_start, datetime.combine(day, time(0), tzinfo=BERLIN))
        part_end = min(local_end, datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN))
        if not any(s <= part_start and part_end <= e for s, e in day_spans(windows, day)):
            return False
    return True


@dataclass(frozen=True)
class Candidate:
    user_id: int
    display_name: str
    username: str
    qualification: Qualification
    gender: Gender | None
    booked_minutes: int


@dataclass(frozen=True)
class Unavailable:
    reason: str  # "no_window", "holiday", "absent", "booked", "not_qualified"
    message: str
    slot: tuple[datetime, datetime] | None = None


def qualification_ok(qualification: Qualification, wish: QualificationWish) -> bool:
    if wish is QualificationWish.SWORN:
        return qualification is Qualification.SWORN
    if wish is QualificationWish.CERTIFIED:
        return qualification in (Qualification.SWORN, Qualification.CERTIFIED)
    return True


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The local calendar month around `moment`, as UTC instants."""
    local = moment.astimezone(BERLIN)
    first = datetime(local.year, local.month, 1, tzinfo=BERLIN)
    following = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=BERLIN)
    return first.astimezone(UTC), following.astimezone(UTC)


async def booked_minutes(*, db: AsyncSession, interpreter_ids: list[int], moment: datetime) -> dict[int, int]:
    """Minutes booked per interpreter in the local month of `moment` (fair share)."""
    if not interpreter_ids:
        return {}
    month_start, month_end = month_bounds(moment)
    stmt = select(InterpretingRequest.interpreter_id, InterpretingRequest.scheduled_start,
                  InterpretingRequest.scheduled_end).where(
        InterpretingRequest.mode == RequestMode.BOOKED,
        InterpretingRequest.interpreter_id.in_(interpreter_ids),
        InterpretingRequest.status.in_(COUNTED),
        InterpretingRequest.scheduled_start >= month_start,
        InterpretingRequest.scheduled_start < month_end,
    )
    minutes: dict[int, int] = defaultdict(int)
    for interpreter_id, start, end in (await db.execute(stmt)).all():
        if interpreter_id is None or start is None or end is None:
            continue
        minutes[interpreter_id] += round((end - start).total_seconds() / 60)
    return dict(minutes)


async def find_conflict(*, db: AsyncSession, interpreter_id: int, start: datetime, end: datetime,
                        exclude_id: int | None = None) -> InterpretingRequest | None:
    """The first booking of this interpreter overlapping [start, end), if any."""
    stmt = select(InterpretingRequest).where(
        InterpretingRequest.mode == RequestMode.BOOKED,
        InterpretingRequest.interpreter_id == interpreter_id,
        InterpretingRequest.status.in_(HOLDING),
        InterpretingRequest.scheduled_start < end,
        InterpretingRequest.scheduled_end > start,
    ).order_by(InterpretingRequest.scheduled_start).limit(1)
    if exclude_id is not None:
        stmt = stmt.where(InterpretingRequest.id != exclude_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def check(*, db: AsyncSession, interpreter_id: int, start: datetime, end: datetime,
                exclude_id: int | None = None) -> Unavailable | None:
    """Why this interpreter cannot take the slot, or None if they can (qualification aside)."""
    for day in local_days(start, end):
        if (name := holiday_name(day)) is not None:
            return Unavailable("holiday", f"{day:%Y-%m-%d} is a public holiday in Thuringia ({name}).")
    windows = (await db.execute(select(AvailabilityWindow).where(
        AvailabilityWindow.interpreter_id == interpreter_id))).scalars().all()
    if not within_windows(windows, start, end):
        return Unavailable("no_window", "The time is outside the interpreter's availability.")
    absent = (await db.execute(select(Absence.id).where(
        Absence.interpreter_id == interpreter_id, Absence.starts_at < end, Absence.ends_at > start
    ).limit(1))).first()
    if absent is not None:
        return Unavailable("absent", "The interpreter is absent at that time.")
    conflict = await find_conflict(db=db, interpreter_id=interpreter_id, start=start, end=end,
                                   exclude_id=exclude_id)
    if conflict is not None:
        return booked_conflict(conflict)
    return None


def booked_conflict(conflict: InterpretingRequest) -> Unavailable:
    assert conflict.scheduled_start is not None and conflict.scheduled_end is not None
    slot = (conflict.scheduled_start, conflict.scheduled_end)
    return Unavailable("booked", f"The interpreter is already booked {describe_slot(*slot)}.", slot)


def describe_slot(start: datetime, end: datetime) -> str:
    local_start, local_end = start.astimezone(BERLIN), end.astimezone(BERLIN)
    return f"{local_start:%Y-%m-%d %H:%M}–{local_end:%H:%M} (Europe/Berlin)"


async def candidates(*, db: AsyncSession, language_code: str, start: datetime, end: datetime,
                     wish_gender: Gender | None = None,
                     wish_qualification: QualificationWish = QualificationWish.ANY,
                     exclude: Iterable[int] = (), exclude_booking_id: int | None = None) -> list[Candidate]:
    """Qualified interpreters free for the slot, fewest booked minutes this month first."""
    stmt = (
        select(User.id, User.display_name, User.username, InterpreterLanguage.qualification,
               InterpreterProfile.gender)
        .join(InterpreterProfile, InterpreterProfile.user_id == User.id)
        .join(InterpreterLanguage, InterpreterLanguage.interpreter_id == User.id)
        .where(User.role == Role.INTERPRETER, User.active.is_(True),
               InterpreterLanguage.language_code == language_code)
    )
    excluded = set(exclude)
    if excluded:
        stmt = stmt.where(User.id.not_in(excluded))
    if wish_gender is not None:
        stmt = stmt.where(InterpreterProfile.gender == wish_gender)
    rows = [r for r in (await db.execute(stmt)).all() if qualification_ok(r[3], wish_qualification)]
    free = []
    for user_id, name, username, qualification, gender in rows:
        if await check(db=db, interpreter_id=user_id, start=start, end=end,
                       exclude_id=exclude_booking_id) is None:
            free.append((user_id, name, username, qualification, gender))
    minutes = await booked_minutes(db=db, interpreter_ids=[r[0] for r in free], moment=start)
    found = [Candidate(user_id=u, display_name=n, username=un, qualification=q, gender=g,
                       booked_minutes=minutes.get(u, 0))
             for u, n, un, q, g in free]
    found.sort(key=lambda c: (c.booked_minutes, c.qualification.rank, c.user_id))
    return found


async def qualification_of(*, db: AsyncSession, interpreter_id: int, language_code: str) -> Qualification | None:
    row = (await db.execute(select(InterpreterLanguage.qualification).join(
        User, User.id == InterpreterLanguage.interpreter_id).where(
        InterpreterLanguage.interpreter_id == interpreter_id,
        InterpreterLanguage.language_code == language_code,
        User.active.is_(True), User.role == Role.INTERPRETER))).first()
    return row[0] if row else None


async def lock_interpreter(*, db: AsyncSession, interpreter_id: int, wait: bool = True) -> bool:
    """Serialise booking writes per interpreter on PostgreSQL (SQLite's BEGIN IMMEDIATE already
    serialises every writer). Without `wait`, False means another transaction holds the lock."""
    if db.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        await db.execute(text("SELECT pg_advisory_xact_lock(7301, :id)"), {"id": interpreter_id})
        return True
    got = (await db.execute(text("SELECT pg_try_advisory_xact_lock(7301, :id)"), {"id": interpreter_id})).scalar()
    return bool(got)
