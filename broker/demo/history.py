"""Plausible ledger history for the demo and the benchmark (`videodolmetschen demo --history 12`).

Rhythm: office hours on weekdays with a late-morning peak and long Tuesday/Thursday hours,
reception centres around the clock, summer and Christmas dips, a growing programme. Language
mix after Thuringia's main origin countries. Unmet demand concentrates at night (few
interpreters online) and in rare languages. All randomness comes from one seeded `Random`, so
a seed gives the same year every time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, LedgerOutcome, Media, OfficeKind, RequestMode
from broker.interpreter.models import InterpreterLanguage, PresenceInterval
from broker.language.models import Language, Purpose
from broker.ledger.models import LedgerEntry, local_keys
from broker.office.models import Office
from broker.report.timekeys import LOCAL_TZ

# Relative demand weights; languages not listed (and present in the database) get RARE_WEIGHT.
LANGUAGE_WEIGHTS: dict[str, float] = {
    "ar": 18,
    "uk": 16,
    "prs": 10,
    "ru": 8,
    "fa": 7,
    "ps": 6,
    "tr": 5,
    "ku": 5,
    "ti": 4,
    "ckb": 3,
    "so": 3,
    "ro": 3,
    "bg": 2,
    "pl": 2,
    "vi": 2,
    "sq": 2,
    "ka": 1.5,
    "sr": 1,
    "ur": 1,
    "fr": 1,
    "en": 1,
    "am": 1,
    "gsg": 0.8,
}
RARE_WEIGHT = 0.3
OFFICE_WEIGHTS: dict[OfficeKind, float] = {
    OfficeKind.IMMIGRATION_OFFICE: 3.0,
    OfficeKind.RECEPTION_CENTRE: 2.5,
    OfficeKind.JOB_CENTRE: 2.0,
    OfficeKind.SOCIAL_WELFARE_OFFICE: 1.2,
    OfficeKind.YOUTH_WELFARE_OFFICE: 0.8,
    OfficeKind.STATE_OFFICE: 1.0,
    OfficeKind.OTHER: 0.5,
}
# Share of a weekday's demand per local hour (office hours, Tue/Thu until 18:00).
HOUR_SHAPE = [0.0] * 7 + [0.5, 1.0, 1.4, 1.5, 1.2, 0.7, 0.9, 1.0, 0.8, 0.4] + [0.0] * 7
LONG_DAY_HOURS = {16: 0.6, 17: 0.4}
WEEKDAY_FACTOR = [1.1, 1.2, 0.9, 1.2, 0.7, 0.0, 0.0]
NIGHT_RATE = 0.12  # reception centres: arrivals per hour outside office hours
# Calibrated on the programme's figures: bookings average 45 minutes and make a fifth of the
# requests in office hours; on-demand calls average about 15 minutes; a session (all kinds)
# averages about 20.5 minutes. Talk is log-normal with sigma 0.5 (mean = median · e^0.125).
BOOKED_SHARE = 0.2
BOOKED_TALK_MEDIAN_S = 2400.0
ON_DEMAND_TALK_MEDIAN_S = 800.0
FAILED_TALK_MAX_S = 60
PROBLEMS = ("audio", "video", "connection", "audio,connection", "interpreting")


@dataclass(frozen=True)
class Dimensions:
    offices: Sequence[tuple[int, OfficeKind, str]]  # id, kind, district AGS
    languages: Sequence[str]
    purposes: Sequence[str]
    interpreters: dict[str, list[int]]  # language code -> interpreter ids


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, count, product = math.exp(-lam), 0, rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _season(moment: datetime, start: datetime, growth_per_year: float = 0.2) -> float:
    growth = 1.0 + growth_per_year * (moment - start).days / 365.0
    month, day = moment.month, moment.day
    dip = 0.8 if month in (7, 8) else 0.7 if (month == 12 and day > 20) or (month == 1 and day < 3) else 1.0
    return growth * dip


def iter_ledger_rows(
    *,
    dims: Dimensions,
    start: datetime,
    end: datetime,
    rng: random.Random,
    per_day: float = 140.0,
    growth_per_year: float = 0.2,
) -> Iterator[dict[str, Any]]:
    """Ledger rows (column -> value) in time order from `start` to `end` (UTC)."""
    if not dims.offices or not dims.languages or not dims.purposes:
        return
    languages = list(dims.languages)
    lang_weights = [LANGUAGE_WEIGHTS.get(code, RARE_WEIGHT) for code in languages]
    office_weights = [OFFICE_WEIGHTS.get(kind, 1.0) for _, kind, _ in dims.offices]
    night_offices = [o for o in dims.offices if o[1] is OfficeKind.RECEPTION_CENTRE] or list(dims.offices)
    purpose_weights = [1.0 / (i + 1) for i in range(len(dims.purposes))]
    rare = {code for code, w in zip(languages, lang_weights, strict=True) if w < 1.5}
    per_hour = per_day / sum(HOUR_SHAPE) / (sum(WEEKDAY_FACTOR) / 5)
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        local = hour.astimezone(LOCAL_TZ)
        shape = HOUR_SHAPE[local.hour] or (LONG_DAY_HOURS.get(local.hour, 0.0) if local.weekday() in (1, 3) else 0.0)
        office_hours = shape * WEEKDAY_FACTOR[local.weekday()] * per_hour * _season(hour, start, growth_per_year)
        night = NIGHT_RATE * _season(hour, start, growth_per_year) if office_hours == 0 else 0.0
        for _ in range(_poisson(rng, office_hours + night)):
            at = hour + timedelta(seconds=rng.randrange(3600))
            if at >= end:
                continue
            pool, weights = (dims.offices, office_weights) if office_hours else (night_offices, None)
            office = rng.choices(pool, weights)[0]
            language = rng.choices(languages, lang_weights)[0]
            yield _row(
                rng,
                dims,
                office,
                language,
                rng.choices(dims.purposes, purpose_weights)[0],
                at,
                night=not office_hours,
                rare=language in rare,
            )
        hour += timedelta(hours=1)


def _row(
    rng: random.Random,
    dims: Dimensions,
    office: tuple[int, OfficeKind, str],
    language: str,
    purpose: str,
    at: datetime,
    *,
    night: bool,
    rare: bool,
) -> dict[str, Any]:
    booked = not night and rng.random() < BOOKED_SHARE
    interpreters = dims.interpreters.get(language, [])
    local_month, local_how = local_keys(at)
    row: dict[str, Any] = {
        "request_id": None,
        "office_id": office[0],
        "office_kind": office[1],
        "district_ags": office[2],
        "language_code": language,
        "purpose": purpose,
        "mode": RequestMode.BOOKED if booked else RequestMode.ON_DEMAND,
        "media": Media.AUDIO if rng.random() < 0.1 else Media.VIDEO,
        "requested_at": at,
        "local_month": local_month,
        "local_how": local_how,
        "first_offered_at": None,
        "accepted_at": None,
        "connected_at": None,
        "ended_at": None,
        "wait_seconds": None,
        "talk_seconds": 0,
        "offers_made": 0,
        "interpreter_id": None,
        "rating": None,
        "problems": None,
        "late_cancellation": False,
    }
    if not interpreters:
        row["outcome"] = LedgerOutcome.NO_INTERPRETER
        return row
    draw = rng.random()
    if booked:
        outcome = (
            LedgerOutcome.CANCELLED
            if draw < 0.08
            else LedgerOutcome.NO_SHOW
            if draw < 0.11
            else LedgerOutcome.ESCALATED
            if draw < 0.13
            else LedgerOutcome.COMPLETED
        )
        wait = rng.randrange(0, 120)
        talk_median = BOOKED_TALK_MEDIAN_S
    else:
        unfilled = 0.03 + (0.25 if rare else 0.0) + (0.45 if night else 0.0)
        outcome = (
            LedgerOutcome.UNFILLED
            if draw < unfilled
            else LedgerOutcome.CANCELLED
            if draw < unfilled + 0.04
            else LedgerOutcome.FAILED
            if draw < unfilled + 0.05
            else LedgerOutcome.COMPLETED
        )
        wait = min(180, int(rng.lognormvariate(math.log(75 if rare or night else 30), 0.6)))
        talk_median = ON_DEMAND_TALK_MEDIAN_S
    interpreter = rng.choice(interpreters)
    row["outcome"] = outcome
    if outcome is LedgerOutcome.CANCELLED:
        if booked:
            row["late_cancellation"] = rng.random() < 0.3
            row["interpreter_id"] = interpreter
        return row
    row["offers_made"] = 1 + int(rng.random() * 3)
    if outcome is LedgerOutcome.UNFILLED:
        row["first_offered_at"] = at + timedelta(seconds=2)
        row["wait_seconds"] = 180
        return row
    if outcome is LedgerOutcome.NO_SHOW:
        row["interpreter_id"] = interpreter
        return row
    talk = int(min(14400, rng.lognormvariate(math.log(talk_median), 0.5)))
    if outcome is LedgerOutcome.FAILED:
        talk = min(talk, FAILED_TALK_MAX_S)  # the connection broke early; the call ended there
    connected = at + timedelta(seconds=wait)
    row.update(
        first_offered_at=at + timedelta(seconds=min(wait, 2)),
        accepted_at=connected - timedelta(seconds=min(wait, 3)),
        connected_at=connected,
        ended_at=connected + timedelta(seconds=talk),
        wait_seconds=wait,
        talk_seconds=talk,
        interpreter_id=interpreter,
    )
    if outcome is LedgerOutcome.COMPLETED and rng.random() < 0.6:
        row["rating"] = rng.choices((5, 4, 3, 2, 1), (50, 30, 10, 6, 4))[0]
        if rng.random() < 0.07:
            row["problems"] = rng.choice(PROBLEMS)
    return row


def iter_presence_rows(
    *, interpreters: Sequence[int], start: datetime, end: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """Each interpreter online on most weekdays, a shift of 4–8 hours; a few evening shifts."""
    day = start.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        if day.weekday() < 5:
            for interpreter in interpreters:
                if rng.random() < 0.35:
                    continue
                begin = rng.choice((7, 8, 8, 9, 10, 12, 17))
                length = rng.choice((4, 6, 8))
                shift_start = day.replace(hour=begin).astimezone(UTC)
                shift_end = min(shift_start + timedelta(hours=length), end)
                if shift_start < end:
                    yield {
                        "interpreter_id": interpreter,
                        "status": InterpreterStatus.AVAILABLE,
                        "started_at": shift_start,
                        "ended_at": shift_end,
                    }
        day += timedelta(days=1)  # wall-clock arithmetic: the next local midnight


async def load_dimensions(*, db: AsyncSession) -> Dimensions:
    offices = (await db.execute(select(Office.id, Office.kind, Office.district_ags).order_by(Office.id))).all()
    languages = (await db.execute(select(Language.code).where(Language.active).order_by(Language.code))).scalars().all()
    purposes = (
        (await db.execute(select(Purpose.code).where(Purpose.active).order_by(Purpose.sort_order))).scalars().all()
    )
    interpreters: dict[str, list[int]] = {}
    for code, user_id in await db.execute(
        select(InterpreterLanguage.language_code, InterpreterLanguage.interpreter_id)
    ):
        interpreters.setdefault(code, []).append(user_id)
    return Dimensions(list(offices), list(languages), list(purposes), interpreters)


async def generate_history(
    *,
    db: AsyncSession,
    months: int,
    progress: Callable[[int, int], object] | None = None,
    seed: int = 2024,
) -> int:
    """Write `months` months of ledger rows (and interpreter presence) ending now; returns rows.

    Needs offices, languages and purposes to exist (the demo seeding creates them first).
    `progress(done, total)` is called after every month with months done and months total.
    Adds and flushes; the caller commits.
    """
    dims = await load_dimensions(db=db)
    rng = random.Random(seed)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=round(months * 30.44))
    # Idempotent: a second run only fills the time since the newest row, it never doubles.
    newest = (await db.execute(select(func.max(LedgerEntry.requested_at)))).scalar()
    if newest is not None and newest > start:
        start = min(newest + timedelta(seconds=1), end)
    interpreter_ids = sorted({i for ids in dims.interpreters.values() for i in ids})
    latest_presence = (await db.execute(select(func.max(PresenceInterval.started_at)))).scalar()
    presence_start = max(start, latest_presence + timedelta(days=1)) if latest_presence else start
    presence = list(iter_presence_rows(interpreters=interpreter_ids, start=presence_start, end=end, rng=rng))
    for chunk_start in range(0, len(presence), 5000):
        await db.execute(insert(PresenceInterval), presence[chunk_start : chunk_start + 5000])
    written = 0
    for month in range(months):
        month_start = start + (end - start) * month / months
        month_end = start + (end - start) * (month + 1) / months
        rows = list(iter_ledger_rows(dims=dims, start=month_start, end=month_end, rng=rng))
        # Bulk inserts bypass the ledger service; the usage roll-up's triggers still add every row to its cell.
        for chunk_start in range(0, len(rows), 5000):
            await db.execute(insert(LedgerEntry), rows[chunk_start : chunk_start + 5000])
        written += len(rows)
        await db.flush()
        if progress is not None:
            progress(month + 1, months)
    return written
