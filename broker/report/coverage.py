"""Coverage per language and hour of the week from this installation's presence history (item 8).

The arithmetic lives in `broker/routing/coverage.py` (shared with the scenario-based bench);
here: the measured share of each hour in which at least one speaker of the language was online
(the union of the speakers' online intervals, not a product of individual chances, so people
who work the same shift are not taken as independent), the mean speakers online, and demand.
Without any presence history the weekly availability windows stand in (coverage 1 where a
window covers at least half the hour).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.interpreter.models import PresenceInterval
from broker.report import planning, timekeys
from broker.report.plan_schemas import CoverageLanguage, CoverageParams, CoverageReport
from broker.report.schemas import ReportFilters
from broker.routing.coverage import LanguageCoverage, language_coverage

HOURS_PER_WEEK = planning.HOURS_PER_WEEK


def _union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


async def _covered_seconds(
    *, db: AsyncSession, start: datetime, end: datetime, spoken: dict[int, list[str]]
) -> dict[str, list[float]]:
    """Per language: seconds per hour of the week with at least one speaker online."""
    stmt = select(PresenceInterval.interpreter_id, PresenceInterval.started_at, PresenceInterval.ended_at).where(
        PresenceInterval.status.in_(planning.ONLINE),
        PresenceInterval.started_at < end,
        (PresenceInterval.ended_at.is_(None)) | (PresenceInterval.ended_at > start),
    )
    by_language: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for interpreter, began, ended in await db.execute(stmt):
        begin, stop = max(began, start), min(ended or end, end)
        if stop > begin:
            for code in spoken.get(interpreter, []):
                by_language[code].append((begin, stop))
    seconds: dict[str, list[float]] = {}
    for code, intervals in by_language.items():
        into = seconds[code] = [0.0] * HOURS_PER_WEEK
        for begin, stop in _union(intervals):
            planning.spread_over_hours(begin, (stop - begin).total_seconds(), into)
    return seconds


async def coverage_report(
    *, db: AsyncSession, filters: ReportFilters, params: CoverageParams, now: datetime | None = None
) -> CoverageReport:
    """Per language: coverage and expected unfilled share per hour of the week, and its response tier."""
    now = now or datetime.now(UTC)
    filters = planning.planning_period(filters, today=now.astimezone(timekeys.LOCAL_TZ).date())
    names = await planning.service.validate_filters(db=db, filters=filters)
    start, end = planning.observed_bounds(filters, now)
    counts = planning.occurrences(start, end)
    arrivals, _booked, totals = await planning._demand(db=db, filters=filters)
    spoken = await planning._languages_of(db=db)
    online_hours = await planning._online_hours(db=db, start=start, end=end, counts=counts)
    source = "presence" if online_hours else "windows"
    if online_hours:
        covered = await _covered_seconds(db=db, start=start, end=end, spoken=spoken)
        coverage = {
            code: [v / 3600 / counts[s] if counts[s] else 0.0 for s, v in enumerate(values)]
            for code, values in covered.items()
        }
        person_hours = online_hours
    else:
        person_hours = await planning._window_hours(db=db)
        coverage = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
        for person, hours in person_hours.items():
            for code in spoken.get(person, []):
                coverage[code] = [max(a, b) for a, b in zip(coverage[code], hours, strict=True)]
    speakers: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for person, hours in person_hours.items():
        for code in spoken.get(person, []):
            speakers[code] = [a + b for a, b in zip(speakers[code], hours, strict=True)]
    all_talk = sum(t[3] for t in totals.values())
    all_sessions = sum(t[2] for t in totals.values())
    fallback = all_talk / all_sessions if all_sessions else planning.FALLBACK_AHT_SECONDS
    wanted = set(filters.language) if filters.language else None
    codes = {c for c in totals} | {c for cs in spoken.values() for c in cs}
    rows: list[CoverageLanguage] = []
    for code in codes:
        if wanted is not None and code not in wanted:
            continue
        _, _, sessions, talk = totals.get(code, (0, 0, 0, 0.0))
        aht = (talk / sessions if sessions else fallback) + params.wrap_up_seconds
        rates = [arrivals[code][s] / counts[s] if counts[s] else 0.0 for s in range(HOURS_PER_WEEK)] \
            if code in arrivals else [0.0] * HOURS_PER_WEEK
        result = language_coverage(
            code=code, coverage=coverage.get(code, [0.0] * HOURS_PER_WEEK),
            speakers_online=speakers.get(code, [0.0] * HOURS_PER_WEEK), arrivals=rates, aht_seconds=aht,
            max_wait_seconds=params.max_wait_seconds, tier_target=params.tier_target)
        rows.append(to_row(result, names.languages.get(code, code)))
    rows.sort(key=lambda r: (-r.requests_per_week, r.language))
    return CoverageReport(filters=filters, params=params, source=source, languages=rows)


def to_row(result: LanguageCoverage, name: str) -> CoverageLanguage:
    return CoverageLanguage(
        language=result.code, language_name=name, requests_per_week=result.requests_per_week,
        coverage=result.mean_coverage, unfilled_share=result.mean_unfilled, tier=result.tier, reach=result.reach,
        hours_coverage=result.coverage, hours_unfilled=result.unfilled)


EXPORT_COLUMNS = ["language", "language_name", "requests_per_week", "coverage", "unfilled_share", "tier",
                  "reach_2min", "reach_15min", "reach_2h", "reach_1d"]


def export_rows(report: CoverageReport) -> list[dict[str, object]]:
    """One row per language: the figures the dashboard's coverage table and the CLI show."""
    return [
        {"language": r.language, "language_name": r.language_name, "requests_per_week": r.requests_per_week,
         "coverage": r.coverage, "unfilled_share": r.unfilled_share, "tier": r.tier,
         **{f"reach_{name}": value for name, value in r.reach.items()}}
        for r in report.languages
    ]
