"""Staffing advice: demand per language and hour of the week → Erlang C need vs who is there.

Need: on-demand arrivals per hour (all of them, including those nobody answered: that is the
demand we failed) and the mean handling time (talk + wrap-up) give the interpreters needed
online for the target service level by Erlang C; booked sessions are planned work, so their
mean load in Erlangs is added, rounded to whole interpreters. Have: the mean number of
qualified interpreters online in that hour (presence history) or, when there is none, the
number whose weekly availability windows cover it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, RequestMode
from broker.interpreter.models import AvailabilityWindow, InterpreterLanguage, PresenceInterval
from broker.ledger.models import LedgerEntry as L
from broker.report import erlang, service, timekeys
from broker.report.schemas import (
    Grouping,
    PlanningGap,
    PlanningLanguage,
    PlanningParams,
    PlanningReport,
    PlanningSlot,
    ReportFilters,
)

HOURS_PER_WEEK = 168
DEFAULT_WEEKS = 12
ONLINE = (
    InterpreterStatus.AVAILABLE,
    InterpreterStatus.OFFERED,
    InterpreterStatus.IN_SESSION,
    InterpreterStatus.WRAP_UP,
)
FALLBACK_AHT_SECONDS = 900.0


def planning_period(filters: ReportFilters, today: date | None = None) -> ReportFilters:
    """Default to the last twelve weeks: staffing should follow recent demand, not 2019's."""
    today = today or datetime.now(UTC).astimezone(timekeys.LOCAL_TZ).date()
    day_to = filters.date_to or max(today, filters.date_from or today)
    day_from = filters.date_from or day_to - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    return filters.model_copy(update={"date_from": day_from, "date_to": day_to})


def hour_of_week(instant: datetime) -> int:
    local = instant.astimezone(timekeys.LOCAL_TZ)
    return local.weekday() * 24 + local.hour


def occurrences(start: datetime, end: datetime) -> list[int]:
    """How often each local hour of the week occurs in [start, end)."""
    hours = int((end - start).total_seconds() // 3600)
    full_weeks, rest = divmod(hours, HOURS_PER_WEEK)
    counts = [full_weeks] * HOURS_PER_WEEK
    probe = start + timedelta(hours=full_weeks * HOURS_PER_WEEK)
    for _ in range(rest):
        counts[hour_of_week(probe)] += 1
        probe += timedelta(hours=1)
    return counts


async def _demand(
    *, db: AsyncSession, filters: ReportFilters
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, tuple[int, int, int, float]]]:
    """Per language: on-demand arrivals and booked talk seconds per hour of week, and totals."""
    how, language = await service.key_columns(
        db=db, filters=filters, group_by=[Grouping.WEEKDAY_HOUR, Grouping.LANGUAGE]
    )
    on_demand = L.mode == RequestMode.ON_DEMAND
    booked_talk = func.sum(case((L.mode == RequestMode.BOOKED, L.talk_seconds), else_=0))
    stmt = (
        select(how, language, service._count_if(on_demand), booked_talk)
        .where(*service.conditions(filters))
        .group_by(how, language)
    )
    arrivals: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    booked: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for slot, code, count, talk in await db.execute(stmt):
        arrivals[code][int(slot)] += int(count or 0)
        booked[code][int(slot)] += int(talk or 0)
    answered = on_demand & L.connected_at.is_not(None)
    totals_stmt = (
        select(
            L.language_code,
            func.count(),
            service.SUMS["unmet"],
            service._count_if(answered),
            func.sum(case((answered, L.talk_seconds), else_=0)),
        )
        .where(*service.conditions(filters))
        .group_by(L.language_code)
    )
    totals = {
        code: (int(n), int(unmet or 0), int(sessions or 0), float(talk or 0))
        for code, n, unmet, sessions, talk in await db.execute(totals_stmt)
    }
    return arrivals, booked, totals


async def _have_windows(*, db: AsyncSession) -> dict[str, list[int]]:
    """Interpreters per language whose weekly window covers at least half of the hour."""
    stmt = select(
        InterpreterLanguage.language_code,
        AvailabilityWindow.weekday,
        AvailabilityWindow.start_time,
        AvailabilityWindow.end_time,
    ).join(AvailabilityWindow, AvailabilityWindow.interpreter_id == InterpreterLanguage.interpreter_id)
    have: dict[str, list[int]] = defaultdict(lambda: [0] * HOURS_PER_WEEK)
    for code, weekday, start, end in await db.execute(stmt):
        start_min, end_min = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        for hour in range(24):
            overlap = min(end_min, hour * 60 + 60) - max(start_min, hour * 60)
            if overlap >= 30:
                have[code][weekday * 24 + hour] += 1
    return have


async def _have_online(
    *, db: AsyncSession, start: datetime, end: datetime, counts: list[int]
) -> dict[str, list[float]] | None:
    """Mean interpreters online per language and hour of week; None without presence history."""
    stmt = select(PresenceInterval.interpreter_id, PresenceInterval.started_at, PresenceInterval.ended_at).where(
        PresenceInterval.status.in_(ONLINE),
        PresenceInterval.started_at < end,
        (PresenceInterval.ended_at.is_(None)) | (PresenceInterval.ended_at > start),
    )
    hours_online: dict[int, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for interpreter, began, ended in await db.execute(stmt):
        cursor, stop = max(began, start), min(ended or end, end)
        while cursor < stop:
            next_hour = cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            piece = min(next_hour, stop) - cursor
            hours_online[interpreter][hour_of_week(cursor)] += piece.total_seconds() / 3600
            cursor = next_hour
    if not hours_online:
        return None
    languages = (await db.execute(select(InterpreterLanguage.interpreter_id, InterpreterLanguage.language_code))).all()
    have: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for interpreter, code in languages:
        for slot, value in enumerate(hours_online.get(interpreter, ())):
            if counts[slot]:
                have[code][slot] += value / counts[slot]
    return have


async def planning_report(*, db: AsyncSession, filters: ReportFilters, params: PlanningParams) -> PlanningReport:
    """Need vs have per language and hour of the week, the merged gap table, a language summary."""
    filters = planning_period(filters)
    names = await service.validate_filters(db=db, filters=filters)
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    assert start is not None and end is not None
    counts = occurrences(start, end)
    arrivals, booked, totals = await _demand(db=db, filters=filters)
    windows = await _have_windows(db=db)
    online = await _have_online(db=db, start=start, end=end, counts=counts)
    registered = dict(
        (
            await db.execute(
                select(InterpreterLanguage.language_code, func.count()).group_by(InterpreterLanguage.language_code)
            )
        ).all()
    )
    all_talk = sum(t[3] for t in totals.values())
    all_sessions = sum(t[2] for t in totals.values())
    fallback_talk = all_talk / all_sessions if all_sessions else FALLBACK_AHT_SECONDS
    slots: list[PlanningSlot] = []
    summaries: list[PlanningLanguage] = []
    for code in sorted(totals, key=lambda c: -totals[c][0]):
        requests, unmet, sessions, talk = totals[code]
        aht = (talk / sessions if sessions else fallback_talk) + params.wrap_up_seconds
        lang_slots = []
        for slot in range(HOURS_PER_WEEK):
            if not counts[slot] or not (arrivals[code][slot] or booked[code][slot]):
                continue
            rate = arrivals[code][slot] / counts[slot]
            booked_load = booked[code][slot] / counts[slot] / 3600
            staffing = erlang.required_servers(
                arrivals_per_hour=rate,
                aht_seconds=aht,
                target_service_level=params.target_service_level,
                answer_seconds=params.answer_seconds,
                max_occupancy=params.max_occupancy,
            )
            need = staffing.servers + math.floor(booked_load + 0.5)
            have_windows = windows[code][slot] if code in windows else 0
            have_online = round(online[code][slot], 2) if online and code in online else 0.0
            have = have_online if online is not None else float(have_windows)
            servers_at_have = math.floor(have + 1e-9)
            lang_slots.append(
                PlanningSlot(
                    language=code,
                    weekday=slot // 24,
                    hour=slot % 24,
                    arrivals_per_hour=round(rate, 4),
                    aht_seconds=round(aht, 1),
                    booked_erlangs=round(booked_load, 3),
                    need=need,
                    have_windows=have_windows,
                    have_online=have_online,
                    have=have,
                    gap=round(need - have, 2),
                    service_level_at_have=round(
                        erlang.service_level(servers_at_have, staffing.traffic, aht, params.answer_seconds), 3
                    )
                    if rate
                    else None,
                )
            )
        slots.extend(lang_slots)
        summaries.append(
            PlanningLanguage(
                language=code,
                language_name=names.languages.get(code, code),
                requests=requests,
                arrivals_per_week=round(sum(arrivals[code]) / (sum(counts) / HOURS_PER_WEEK), 2),
                aht_seconds=round(aht, 1),
                unmet=unmet,
                peak_need=max((s.need for s in lang_slots), default=0),
                hours_short=sum(1 for s in lang_slots if s.gap > 0),
                interpreters_registered=int(registered.get(code, 0)),
            )
        )
    return PlanningReport(
        filters=filters,
        params=params,
        weeks=round(sum(counts) / HOURS_PER_WEEK, 2),
        presence_source="presence" if online is not None else "windows",
        languages=summaries,
        gaps=merge_gaps(slots, names.languages),
        slots=slots,
    )


def merge_gaps(slots: list[PlanningSlot], language_names: dict[str, str]) -> list[PlanningGap]:
    """Join neighbouring short hours with equal need and have: "Arabic, Mon 9–11: need 6, have 3"."""
    gaps: list[PlanningGap] = []
    for slot in slots:
        if slot.gap <= 0:
            continue
        last = gaps[-1] if gaps else None
        if (
            last
            and last.language == slot.language
            and last.weekday == slot.weekday
            and last.end_hour == slot.hour
            and last.need == slot.need
            and round(last.have, 1) == round(slot.have, 1)
        ):
            last.end_hour = slot.hour + 1
            continue
        gaps.append(
            PlanningGap(
                language=slot.language,
                language_name=language_names.get(slot.language, slot.language),
                weekday=slot.weekday,
                start_hour=slot.hour,
                end_hour=slot.hour + 1,
                need=slot.need,
                have=slot.have,
                gap=slot.gap,
                text="",
            )
        )
    for gap in gaps:
        gap.text = (
            f"{gap.language_name}, {timekeys.WEEKDAYS_DE[gap.weekday]} "
            f"{gap.start_hour}–{gap.end_hour}: need {gap.need}, have {round(gap.have, 1):g}"
        )
    gaps.sort(key=lambda g: (-g.gap, g.start_hour - g.end_hour, g.language, g.weekday, g.start_hour))
    return gaps
