"""Usage reports: one aggregation in SQL, the same numbers for API, CLI, dashboard and exports.

Percentiles are portable by construction: SQL returns a histogram of whole wait seconds per
group (`GROUP BY keys, wait_seconds`), Python interpolates median and p90 from it. That is
exact (waits are whole seconds), identical on SQLite and PostgreSQL (percentile_cont exists
only on the latter), and cheap: a group's histogram has at most a few hundred distinct values
however many calls it holds. See docs/reports.md for definitions and the index design.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from broker.enums import LedgerOutcome, Media, OfficeKind, RequestMode
from broker.errors import Invalid
from broker.language.models import Language, Purpose
from broker.ledger.models import LedgerEntry as L
from broker.office.models import District, Office
from broker.report import timekeys
from broker.report.schemas import (
    TIME_GROUPINGS,
    FilterOption,
    Grouping,
    ReportFilters,
    ReportOptions,
    UsageFigures,
    UsageReport,
    UsageRow,
)


class ReportInputError(Invalid):
    """A filter names something that does not exist; the 422 lists what would have been allowed."""

    code = "unknown_filter_value"

    def __init__(self, field_name: str, unknown: Sequence[object], allowed: Sequence[object]) -> None:
        self.field_name = field_name
        self.unknown = [str(v) for v in unknown]
        self.allowed = [str(v) for v in allowed]
        super().__init__(
            f"Unbekannter Wert für {field_name} / unknown {field_name}: {', '.join(self.unknown)}",
            loc=["query", field_name],
            field=field_name,
            unknown=self.unknown,
            allowed=self.allowed,
        )


def dialect_name(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


# --- what the figures count (definitions also in docs/reports.md) ----------------------------

IS_BOOKED_CANCELLATION = (L.mode == RequestMode.BOOKED) & (L.outcome == LedgerOutcome.CANCELLED)
IS_UNMET = L.outcome.in_([LedgerOutcome.UNFILLED, LedgerOutcome.NO_INTERPRETER]) | (
    (L.outcome == LedgerOutcome.CANCELLED) & (L.mode == RequestMode.ON_DEMAND)
)
IS_WAIT_MEASURED = (L.mode == RequestMode.ON_DEMAND) & L.connected_at.is_not(None) & L.wait_seconds.is_not(None)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


SUMS: dict[str, ColumnElement[Any]] = {
    "requests": func.count(),
    "demand": _count_if(~IS_BOOKED_CANCELLATION),
    "sessions": func.count(L.connected_at),
    "talk_seconds": func.sum(L.talk_seconds),
    "requests_on_demand": _count_if(L.mode == RequestMode.ON_DEMAND),
    "sessions_on_demand": _count_if((L.mode == RequestMode.ON_DEMAND) & L.connected_at.is_not(None)),
    "unmet": _count_if(IS_UNMET),
    "no_shows": _count_if(L.outcome == LedgerOutcome.NO_SHOW),
    "late_cancellations": _count_if(L.late_cancellation.is_(True)),
    "ratings": func.count(L.rating),
    "rating_sum": func.sum(L.rating),
    "with_problems": _count_if(L.problems.is_not(None) & (L.problems != "")),
}

DIMENSION_COLUMNS: dict[Grouping, Any] = {
    Grouping.LANGUAGE: L.language_code,
    Grouping.OFFICE: L.office_id,
    Grouping.OFFICE_KIND: L.office_kind,
    Grouping.DISTRICT: L.district_ags,
    Grouping.PURPOSE: L.purpose,
    Grouping.MODE: L.mode,
    Grouping.MEDIA: L.media,
}


@dataclass
class _Cell:
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMS, 0))
    waits: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def absorb(self, other: _Cell) -> None:
        for name, value in other.sums.items():
            self.sums[name] += value
        for wait, count in other.waits.items():
            self.waits[wait] += count


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (what PostgreSQL's percentile_cont does)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    position = fraction * (total - 1)
    low_rank, high_rank = int(position), min(int(position) + 1, total - 1)
    low = high = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen > low_rank:
            low = value
        if seen > high_rank:
            high = value
            break
    assert low is not None and high is not None
    return round(low + (high - low) * (position - int(position)), 1)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures_from(cell: _Cell) -> dict[str, Any]:
    s = cell.sums
    measured = sum(cell.waits.values())
    return {
        "requests": s["requests"],
        "demand": s["demand"],
        "sessions": s["sessions"],
        "talk_minutes": round(s["talk_seconds"] / 60, 1),
        "requests_on_demand": s["requests_on_demand"],
        "requests_booked": s["requests"] - s["requests_on_demand"],
        "sessions_on_demand": s["sessions_on_demand"],
        "sessions_booked": s["sessions"] - s["sessions_on_demand"],
        "waits_measured": measured,
        "wait_median_s": percentile(cell.waits, 0.5),
        "wait_p90_s": percentile(cell.waits, 0.9),
        "fill_rate": _share(s["sessions"], s["demand"]),
        "unmet": s["unmet"],
        "unmet_share": _share(s["unmet"], s["demand"]),
        "no_shows": s["no_shows"],
        "late_cancellations": s["late_cancellations"],
        "ratings": s["ratings"],
        "mean_rating": round(s["rating_sum"] / s["ratings"], 2) if s["ratings"] else None,
        "with_problems": s["with_problems"],
        "problem_share": _share(s["with_problems"], s["sessions"]),
    }


# --- filters --------------------------------------------------------------------------------


def conditions(filters: ReportFilters) -> list[ColumnElement[bool]]:
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    where: list[ColumnElement[bool]] = []
    if start is not None:
        where.append(L.requested_at >= start)
    if end is not None:
        where.append(L.requested_at < end)
    for values, column in (
        (filters.office_id, L.office_id),
        (filters.office_kind, L.office_kind),
        (filters.district, L.district_ags),
        (filters.language, L.language_code),
        (filters.purpose, L.purpose),
        (filters.mode, L.mode),
        (filters.media, L.media),
    ):
        if values:
            where.append(column.in_(values))
    return where


@dataclass(frozen=True)
class Labels:
    offices: dict[int, str]
    districts: dict[str, str]
    languages: dict[str, str]
    purposes: dict[str, str]

    def of(self, grouping: Grouping, value: Any) -> str:
        if grouping in TIME_GROUPINGS:
            return timekeys.time_label(grouping, value)
        tables: dict[Grouping, dict[Any, str]] = {
            Grouping.OFFICE: self.offices,
            Grouping.DISTRICT: self.districts,
            Grouping.LANGUAGE: self.languages,
            Grouping.PURPOSE: self.purposes,
        }
        return tables.get(grouping, {}).get(value, str(value))


async def labels(*, db: AsyncSession) -> Labels:
    offices = dict((await db.execute(select(Office.id, Office.name))).all())
    districts = dict((await db.execute(select(District.ags, District.name))).all())
    languages = dict((await db.execute(select(Language.code, Language.name_de))).all())
    purposes = dict((await db.execute(select(Purpose.code, Purpose.name_de))).all())
    return Labels(offices, districts, languages, purposes)


async def options(*, db: AsyncSession) -> ReportOptions:
    """Every value the filters accept; also the body of a 422 for unknown values."""
    names = await labels(db=db)

    def opts(table: dict[Any, str]) -> list[FilterOption]:
        return [FilterOption(value=str(k), label=v) for k, v in sorted(table.items(), key=lambda kv: kv[1])]

    return ReportOptions(
        groupings=[g.value for g in Grouping],
        offices=opts(names.offices),
        office_kinds=[k.value for k in OfficeKind],
        districts=opts(names.districts),
        languages=opts(names.languages),
        purposes=opts(names.purposes),
        modes=[m.value for m in RequestMode],
        media=[m.value for m in Media],
    )


async def validate_filters(*, db: AsyncSession, filters: ReportFilters) -> Labels:
    """Refuse filter values that name nothing (a typo would otherwise give an empty report)."""
    names = await labels(db=db)
    checks: Iterable[tuple[str, Sequence[Any], dict[Any, str]]] = (
        ("office_id", filters.office_id, names.offices),
        ("district", filters.district, names.districts),
        ("language", filters.language, names.languages),
        ("purpose", filters.purpose, names.purposes),
    )
    for field_name, given, known in checks:
        unknown = [value for value in given if value not in known]
        if unknown:
            raise ReportInputError(field_name, unknown, sorted(known, key=str))
    return names


async def year_span(*, db: AsyncSession, filters: ReportFilters) -> tuple[int, int]:
    """Calendar years the report can touch, to bound SQLite's DST table."""
    if filters.date_from and filters.date_to:
        return filters.date_from.year - 1, filters.date_to.year + 1
    first, last = (await db.execute(select(func.min(L.requested_at), func.max(L.requested_at)))).one()
    now = datetime.now(UTC)
    low = filters.date_from.year if filters.date_from else (first or now).year
    high = filters.date_to.year if filters.date_to else (last or now).year
    return low - 1, high + 1


async def key_columns(*, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping]) -> list[Any]:
    dialect = dialect_name(db)
    years = await year_span(db=db, filters=filters) if set(group_by) & TIME_GROUPINGS else (0, 0)
    columns = []
    for grouping in group_by:
        if grouping in TIME_GROUPINGS:
            expr = timekeys.time_key(grouping, L.requested_at, dialect, years)
        else:
            expr = DIMENSION_COLUMNS[grouping]
        columns.append(expr.label(f"k_{grouping.value}"))
    return columns


def _plain(value: Any) -> str | int:
    if isinstance(value, int):
        return value
    return str(value.value) if hasattr(value, "value") else str(value)


# --- the usage report ------------------------------------------------------------------------


async def usage_cells(
    *, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping]
) -> dict[tuple[str | int, ...], _Cell]:
    """Sums and wait histograms per group: two indexed scans, no per-row Python."""
    keys = await key_columns(db=db, filters=filters, group_by=group_by)
    where = conditions(filters)
    cells: dict[tuple[str | int, ...], _Cell] = defaultdict(_Cell)
    names = list(SUMS)
    sums_stmt = select(*keys, *(SUMS[n].label(n) for n in names)).where(*where)
    if keys:
        sums_stmt = sums_stmt.group_by(*keys)
    for row in await db.execute(sums_stmt):
        if row[len(keys)] == 0:  # the ungrouped query returns one all-NULL row on no data
            continue
        key = tuple(_plain(v) for v in row[: len(keys)])
        cells[key].sums = {n: int(v or 0) for n, v in zip(names, row[len(keys) :], strict=True)}
    hist_stmt = (
        select(*keys, L.wait_seconds, func.count()).where(*where, IS_WAIT_MEASURED).group_by(*keys, L.wait_seconds)
    )
    for row in await db.execute(hist_stmt):
        key = tuple(_plain(v) for v in row[: len(keys)])
        cells[key].waits[int(row[-2])] += int(row[-1])
    return cells


async def usage_report(*, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping]) -> UsageReport:
    """The usage table for `filters`, one row per combination of `group_by` values present."""
    group_by = list(dict.fromkeys(group_by))  # repeated groupings add nothing
    names = await validate_filters(db=db, filters=filters)
    cells = await usage_cells(db=db, filters=filters, group_by=group_by)
    total = _Cell()
    rows: list[UsageRow] = []
    for key in sorted(cells, key=lambda k: tuple(str(v).zfill(8) if isinstance(v, int) else v for v in k)):
        cell = cells[key]
        total.absorb(cell)
        rows.append(
            UsageRow(
                key={g.value: v for g, v in zip(group_by, key, strict=True)},
                label={g.value: names.of(g, v) for g, v in zip(group_by, key, strict=True)},
                **figures_from(cell),
            )
        )
    return UsageReport(filters=filters, group_by=group_by, rows=rows, total=UsageFigures(**figures_from(total)))
