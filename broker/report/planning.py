"""Staffing advice: demand per language and hour of the week → Erlang C need vs who is there.

Need: on-demand arrivals per hour (all of them, including those nobody answered: that is the
demand we failed) and the mean handling time (talk + wrap-up) give the interpreters needed
online for the target service level by Erlang C; booked sessions are planned work, so the
Erlangs they occupy are added as they are (not rounded: most hours hold a fraction of one
booking), spread over the hours each session actually ran. Have: the mean number of qualified
interpreters online in that hour (presence history) or, when there is none, the number whose
weekly availability windows cover it. A person who speaks several languages is one person:
their hour is shared among their languages in proportion to each language's load in that hour,
so the languages' "have" add up to the people online (`hours[].people_online`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, RequestMode
from broker.interpreter.models import AvailabilityWindow, InterpreterLanguage, PresenceInterval
from broker.ledger.models import LedgerEntry as L
from broker.report import erlang, erlang_a, service, timekeys
from broker.report.schemas import (
    Grouping,
    PlanningGap,
    PlanningHour,
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
Weights = dict[str, list[float]]


def planning_period(filters: ReportFilters, today: date | None = None) -> ReportFilters:
    """Default to the last twelve weeks: staffing should follow recent demand, not 2019's."""
    today = today or datetime.now(UTC).astimezone(timekeys.LOCAL_TZ).date()
    day_to = filters.date_to or max(today, filters.date_from or today)
    day_from = filters.date_from or day_to - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    return filters.model_copy(update={"date_from": day_from, "date_to": day_to})


def hour_of_week(instant: datetime) -> int:
    local = instant.astimezone(timekeys.LOCAL_TZ)
    return local.weekday() * 24 + local.hour


def occurrences(start: datetime, end: datetime) -> list[float]:
    """How often each local hour of the week occurs in [start, end), partial hours as fractions.

    Steps through the UTC hours: every UTC hour is exactly one local hour (Germany's offsets are
    whole hours), so the spring change leaves Sunday 02:00 out and the autumn one counts it twice,
    just as the ledger's stored hour of the week does.
    """
    counts = [0.0] * HOURS_PER_WEEK
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        following = hour + timedelta(hours=1)
        seconds = (min(following, end) - max(hour, start)).total_seconds()
        counts[hour_of_week(hour)] += seconds / 3600
        hour = following
    return counts


def observed_bounds(filters: ReportFilters, now: datetime) -> tuple[datetime, datetime]:
    """The period's UTC bounds, ending now at the latest: hours still ahead had no chance of demand."""
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    assert start is not None and end is not None
    return start, max(start, min(end, now))


def spread_over_hours(begin: datetime, seconds: float, into: list[float]) -> None:
    """Add a session's seconds to the hours of the week it ran in (a 45-minute booking at 9:30
    puts 30 minutes into 9–10 and 15 into 10–11)."""
    cursor, stop = begin, begin + timedelta(seconds=seconds)
    while cursor < stop:
        next_hour = cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        into[hour_of_week(cursor)] += (min(next_hour, stop) - cursor).total_seconds()
        cursor = next_hour


async def _demand(
    *, db: AsyncSession, filters: ReportFilters
) -> tuple[Weights, Weights, dict[str, tuple[int, int, int, float]]]:
    """Per language: on-demand arrivals and booked talk seconds per hour of week, and totals."""
    how, language = await service.key_columns(
        db=db, filters=filters, group_by=[Grouping.WEEKDAY_HOUR, Grouping.LANGUAGE]
    )
    on_demand = L.mode == RequestMode.ON_DEMAND
    stmt = (
        select(how, language, service._count_if(on_demand))
        .where(*service.conditions(filters), on_demand)
        .group_by(how, language)
    )
    arrivals: Weights = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for slot, code, count in await db.execute(stmt):
        arrivals[code][int(slot)] += int(count or 0)
    booked: Weights = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    booked_stmt = select(L.language_code, func.coalesce(L.connected_at, L.requested_at), L.talk_seconds).where(
        *service.conditions(filters), L.mode == RequestMode.BOOKED, L.talk_seconds > 0
    )
    for code, began, talk in await db.execute(booked_stmt):
        spread_over_hours(began, talk, booked[code])
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


async def _languages_of(*, db: AsyncSession) -> dict[int, list[str]]:
    spoken: dict[int, list[str]] = defaultdict(list)
    for interpreter, code in await db.execute(
        select(InterpreterLanguage.interpreter_id, InterpreterLanguage.language_code)
    ):
        spoken[interpreter].append(code)
    return spoken


def share_among_languages(
    person_hours: dict[int, list[float]], spoken: dict[int, list[str]], load: Weights
) -> tuple[Weights, list[float]]:
    """Each person's presence per hour, shared among their languages by the languages' load then.

    Returns per-language "have" and the people present per hour; the first adds up to the
    second wherever the person speaks a language with load (equal shares when none has any).
    """
    have: Weights = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    people = [0.0] * HOURS_PER_WEEK
    for person, hours in person_hours.items():
        codes = spoken.get(person, [])
        if not codes:
            continue
        for slot, value in enumerate(hours):
            if not value:
                continue
            people[slot] += value
            weights = [load[c][slot] if c in load else 0.0 for c in codes]
            total = sum(weights)
            for code, weight in zip(codes, weights, strict=True):
                have[code][slot] += value * (weight / total if total else 1 / len(codes))
    return have, people


async def _window_hours(*, db: AsyncSession) -> dict[int, list[float]]:
    """Per interpreter, 1 in each hour of the week their weekly window covers at least half of."""
    stmt = select(AvailabilityWindow.interpreter_id, AvailabilityWindow.weekday, AvailabilityWindow.start_time,
                  AvailabilityWindow.end_time)
    hours: dict[int, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for interpreter, weekday, start, end in await db.execute(stmt):
        start_min, end_min = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        for hour in range(24):
            overlap = min(end_min, hour * 60 + 60) - max(start_min, hour * 60)
            if overlap >= 30:
                hours[interpreter][weekday * 24 + hour] = 1.0
    return hours


async def _online_hours(
    *, db: AsyncSession, start: datetime, end: datetime, counts: list[float]
) -> dict[int, list[float]]:
    """Per interpreter, the mean time online in each hour of the week (0..1); empty without history."""
    stmt = select(PresenceInterval.interpreter_id, PresenceInterval.started_at, PresenceInterval.ended_at).where(
        PresenceInterval.status.in_(ONLINE),
        PresenceInterval.started_at < end,
        (PresenceInterval.ended_at.is_(None)) | (PresenceInterval.ended_at > start),
    )
    seconds: dict[int, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for interpreter, began, ended in await db.execute(stmt):
        spread_over_hours(max(began, start), (min(ended or end, end) - max(began, start)).total_seconds(),
                          seconds[interpreter])
    return {
        person: [value / 3600 / counts[slot] if counts[slot] else 0.0 for slot, value in enumerate(values)]
        for person, values in seconds.items()
    }


def _load(arrivals: Weights, booked: Weights, aht: dict[str, float], counts: list[float]) -> Weights:
    """Offered Erlangs per language and hour (on demand and booked), the weight for sharing people."""
    load: Weights = {}
    for code in set(arrivals) | set(booked):
        load[code] = [
            ((arrivals[code][s] * aht.get(code, FALLBACK_AHT_SECONDS) + booked[code][s]) / 3600 / counts[s])
            if counts[s]
            else 0.0
            for s in range(HOURS_PER_WEEK)
        ]
    return load


async def planning_report(
    *, db: AsyncSession, filters: ReportFilters, params: PlanningParams, now: datetime | None = None
) -> PlanningReport:
    """Need vs have per language and hour of the week, the merged gap table, a language summary."""
    now = now or datetime.now(UTC)
    filters = planning_period(filters, today=now.astimezone(timekeys.LOCAL_TZ).date())
    names = await service.validate_filters(db=db, filters=filters)
    start, end = observed_bounds(filters, now)
    counts = occurrences(start, end)
    arrivals, booked, totals = await _demand(db=db, filters=filters)
    all_talk = sum(t[3] for t in totals.values())
    all_sessions = sum(t[2] for t in totals.values())
    fallback_talk = all_talk / all_sessions if all_sessions else FALLBACK_AHT_SECONDS
    aht = {
        code: (talk / sessions if sessions else fallback_talk) + params.wrap_up_seconds
        for code, (_, _, sessions, talk) in totals.items()
    }
    load = _load(arrivals, booked, aht, counts)
    spoken = await _languages_of(db=db)
    windows, window_people = share_among_languages(await _window_hours(db=db), spoken, load)
    online_hours = await _online_hours(db=db, start=start, end=end, counts=counts)
    online, online_people = share_among_languages(online_hours, spoken, load)
    use_online = bool(online_hours)
    registered: dict[str, int] = defaultdict(int)
    for codes in spoken.values():
        for code in codes:
            registered[code] += 1
    slots: list[PlanningSlot] = []
    summaries: list[PlanningLanguage] = []
    for code in sorted(totals, key=lambda c: -totals[c][0]):
        requests, unmet, _, _ = totals[code]
        lang_slots = []
        for slot in range(HOURS_PER_WEEK):
            if not counts[slot] or not (arrivals[code][slot] or booked[code][slot]):
                continue
            rate = arrivals[code][slot] / counts[slot]
            booked_load = booked[code][slot] / counts[slot] / 3600
            staffing = erlang.required_servers(
                arrivals_per_hour=rate,
                aht_seconds=aht[code],
                target_service_level=params.target_service_level,
                answer_seconds=params.answer_seconds,
                max_occupancy=params.max_occupancy,
            )
            need = round(staffing.servers + booked_load, 2)
            have_windows = round(windows[code][slot], 2) if code in windows else 0.0
            have_online = round(online[code][slot], 2) if code in online else 0.0
            have = have_online if use_online else have_windows
            servers_at_have = math.floor(max(0.0, have - booked_load) + 1e-9)
            lang_slots.append(
                PlanningSlot(
                    language=code,
                    weekday=slot // 24,
                    hour=slot % 24,
                    arrivals_per_hour=round(rate, 4),
                    aht_seconds=round(aht[code], 1),
                    booked_erlangs=round(booked_load, 3),
                    need=need,
                    have_windows=have_windows,
                    have_online=have_online,
                    have=have,
                    gap=round(need - have, 2),
                    service_level_at_have=round(
                        erlang.service_level(servers_at_have, staffing.traffic, aht[code], params.answer_seconds), 3
                    )
                    if rate
                    else None,
                )
            )
        slots.extend(lang_slots)
        peak = max(lang_slots, key=lambda s: (s.arrivals_per_hour, -s.weekday, -s.hour), default=None)
        peak_c, peak_a = erlang_reference(peak, params)
        summaries.append(
            PlanningLanguage(
                language=code,
                language_name=names.languages.get(code, code),
                requests=requests,
                arrivals_per_week=round(sum(arrivals[code]) / (sum(counts) / HOURS_PER_WEEK), 2)
                if sum(counts)
                else 0.0,
                aht_seconds=round(aht[code], 1),
                unmet=unmet,
                peak_need=max((s.need for s in lang_slots), default=0.0),
                hours_short=sum(1 for s in lang_slots if s.gap > 0),
                interpreters_registered=registered.get(code, 0),
                peak_arrivals_per_hour=peak.arrivals_per_hour if peak else 0.0,
                peak_erlang_c=peak_c,
                peak_erlang_a=peak_a,
            )
        )
    return PlanningReport(
        filters=filters,
        params=params,
        weeks=round(sum(counts) / HOURS_PER_WEEK, 2),
        presence_source="presence" if use_online else "windows",
        languages=summaries,
        gaps=merge_gaps(slots, names.languages),
        slots=slots,
        hours=_hours(slots, online_people if use_online else window_people),
    )


def erlang_reference(slot: PlanningSlot | None, params: PlanningParams) -> tuple[int, int]:
    """On-demand interpreters for one language alone at this slot: Erlang C, and Erlang A with patience."""
    if slot is None or slot.arrivals_per_hour <= 0:
        return 0, 0
    by_c = erlang.required_servers(arrivals_per_hour=slot.arrivals_per_hour, aht_seconds=slot.aht_seconds,
                                   target_service_level=params.target_service_level,
                                   answer_seconds=params.answer_seconds).servers
    # Callers who give up shorten the queue, so Erlang A mostly needs fewer; a giver-up counts as not
    # answered, so with very short patience it can need more: search a little past Erlang C.
    by_a = 2 * by_c + 5
    for servers in range(1, 2 * by_c + 5):
        level = erlang_a.service_level(servers=servers, arrivals_per_hour=slot.arrivals_per_hour,
                                       aht_seconds=slot.aht_seconds, patience_seconds=params.patience_seconds,
                                       answer_seconds=params.answer_seconds, steps=200)
        if level >= params.target_service_level:
            by_a = servers
            break
    return by_c, by_a


def _hours(slots: Iterable[PlanningSlot], people: list[float]) -> list[PlanningHour]:
    """Per hour of the week: the languages' needs summed beside the distinct people there."""
    need = [0.0] * HOURS_PER_WEEK
    for slot in slots:
        need[slot.weekday * 24 + slot.hour] += slot.need
    return [
        PlanningHour(weekday=s // 24, hour=s % 24, need_sum=round(need[s], 2), people_online=round(people[s], 2))
        for s in range(HOURS_PER_WEEK)
    ]


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
            f"{gap.start_hour}–{gap.end_hour}: need {round(gap.need, 1):g}, have {round(gap.have, 1):g}"
        )
    gaps.sort(key=lambda g: (-g.gap, g.start_hour - g.end_hour, g.language, g.weekday, g.start_hour))
    return gaps
