"""Usage reports: one aggregation in SQL, the same numbers for API, CLI, dashboard and exports.

Percentiles are portable by construction: SQL returns a histogram of whole wait seconds per
group (`GROUP BY keys, wait_seconds`), Python interpolates median and p90 from it. That is
exact (waits are whole seconds), identical on SQLite and PostgreSQL (percentile_cont exists
only on the latter), and cheap: a group's histogram has at most a few hundred distinct values
however many calls it holds. See docs/reports.md for definitions and the index design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from broker.enums import LedgerOutcome, Media, OfficeKind, RequestMode
from broker.errors import Invalid
from broker.language.models import Language, Purpose
from broker.ledger.models import LedgerEntry as L
from broker.ledger.rollup import SUM_COLUMNS
from broker.office.models import District, Office
from broker.report import cells, figures, timekeys
from broker.report import rows as report_rows
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
            f"unknown {field_name}: {', '.join(self.unknown)}",
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
# An on-demand request nobody took waited until the maximum wait ran out: its wait is at least
# that long (censored), and leaving it out would make the slowest hours look fastest. It enters
# the percentiles with the wait it reached, the maximum.
IS_WAIT_CENSORED = (
    (L.mode == RequestMode.ON_DEMAND) & (L.outcome == LedgerOutcome.UNFILLED) & L.wait_seconds.is_not(None)
)
IS_WAIT_COUNTED = IS_WAIT_MEASURED | IS_WAIT_CENSORED


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _total(column: Any) -> ColumnElement[Any]:
    return func.coalesce(func.sum(column), 0)


SUMS: dict[str, ColumnElement[Any]] = {
    "requests": func.count(),
    "demand": _count_if(~IS_BOOKED_CANCELLATION),
    "sessions": func.count(L.connected_at),
    "talk_seconds": _total(L.talk_seconds),
    "requests_on_demand": _count_if(L.mode == RequestMode.ON_DEMAND),
    "sessions_on_demand": _count_if((L.mode == RequestMode.ON_DEMAND) & L.connected_at.is_not(None)),
    "unmet": _count_if(IS_UNMET),
    "no_shows": _count_if(L.outcome == LedgerOutcome.NO_SHOW),
    "late_cancellations": _count_if(L.late_cancellation.is_(True)),
    "ratings": func.count(L.rating),
    "rating_sum": _total(L.rating),
    "with_problems": _count_if(L.problems.is_not(None) & (L.problems != "")),
    "waits_measured": _count_if(IS_WAIT_MEASURED),
    "waits_censored": _count_if(IS_WAIT_CENSORED),
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


def percentile_sorted(values: Sequence[int], fraction: float) -> float | None:
    """Linear interpolation between closest ranks of an ascending list (what percentile_cont does)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low = values[int(position)]
    high = values[min(int(position) + 1, len(values) - 1)]
    return round(low + (high - low) * (position - int(position)), 1)


# --- filters --------------------------------------------------------------------------------


def conditions(filters: ReportFilters) -> list[ColumnElement[bool]]:
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    where: list[ColumnElement[bool]] = []
    if start is not None:
        where.append(L.requested_at >= start)
    if end is not None:
        where.append(L.requested_at < end)
    return [*where, *cells.dimension_filters(filters)]


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
    """Calendar years the report can touch, to bound SQLite's DST table (week grouping only)."""
    if filters.date_from and filters.date_to:
        return filters.date_from.year - 1, filters.date_to.year + 1
    first, last = (await db.execute(select(func.min(L.requested_at), func.max(L.requested_at)))).one()
    now = datetime.now(UTC)
    low = filters.date_from.year if filters.date_from else (first or now).year
    high = filters.date_to.year if filters.date_to else (last or now).year
    return low - 1, high + 1


# Local month and hour of the week are stored with each row (see LedgerEntry); enums are read as
# their text so keys come back as plain str/int without a Python conversion per group.
STORED_KEYS: dict[Grouping, Any] = {Grouping.MONTH: L.local_month, Grouping.WEEKDAY_HOUR: L.local_how}
ENUM_KEYS = frozenset({Grouping.OFFICE_KIND, Grouping.MODE, Grouping.MEDIA})


async def key_columns(*, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping]) -> list[Any]:
    years = await year_span(db=db, filters=filters) if Grouping.WEEK in group_by else (0, 0)
    columns = []
    for grouping in group_by:
        if grouping in STORED_KEYS:
            expr = STORED_KEYS[grouping]
        elif grouping is Grouping.WEEK:
            expr = timekeys.time_key(grouping, L.requested_at, dialect_name(db), years)
        elif grouping in ENUM_KEYS:
            expr = cast(DIMENSION_COLUMNS[grouping], String)
        else:
            expr = DIMENSION_COLUMNS[grouping]
        columns.append(expr.label(f"k_{grouping.value}"))
    return columns


def _plain(value: Any) -> str | int:
    if isinstance(value, int):
        return value
    return str(value.value) if hasattr(value, "value") else str(value)


# --- the usage report ------------------------------------------------------------------------


def _wait_columns() -> list[ColumnElement[Any]]:
    """PostgreSQL's median and p90 of the counted waits (percentile_cont)."""
    measured = case((IS_WAIT_COUNTED, L.wait_seconds))
    return [
        func.percentile_cont(fraction).within_group(measured.asc()).label(f"p{int(fraction * 100)}")
        for fraction in (0.5, 0.9)
    ]


def _waits(text: str | None) -> list[int]:
    return sorted(map(int, text.split(","))) if text else []


async def usage_report(
    *, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping], use_rollup: bool = True
) -> UsageReport:
    """The usage table for `filters`, one row per combination of `group_by` values present.

    Whole months of reports by language, office, office kind, district and month come from the
    roll-up, the rest from ledger rows (broker/report/cells.py); `use_rollup=False` reads only
    ledger rows (the straightforward computation the tests compare the fast path with).
    Rows are built without validation: every value already has its declared type.
    """
    group_by = list(dict.fromkeys(group_by))  # repeated groupings add nothing
    names = await validate_filters(db=db, filters=filters)
    part = cells.split(filters, group_by) if use_rollup else None
    if part is not None:
        keys = await key_columns(db=db, filters=filters, group_by=group_by)
        found = await cells.groups(
            db=db, filters=filters, group_by=group_by, part=part, edge_keys=keys,
            edge_sums=[SUMS[name] for name in SUM_COLUMNS], counted_wait=IS_WAIT_COUNTED,
        )
        return _from_groups(filters, group_by, names, found)
    dialect = dialect_name(db)
    if dialect != "postgresql":
        found = await _raw_groups(db=db, filters=filters, group_by=group_by)
        return _from_groups(filters, group_by, names, found)
    return await _postgres_raw(db=db, filters=filters, group_by=group_by, names=names)


async def _raw_groups(*, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping]) -> list[cells.Group]:
    """Per group the sums and the counted waits as text, from ledger rows."""
    keys = await key_columns(db=db, filters=filters, group_by=group_by)
    waits = case((IS_WAIT_COUNTED, cast(L.wait_seconds, String)))
    stmt = select(*keys, *(SUMS[name] for name in SUM_COLUMNS), func.group_concat(waits)).where(*conditions(filters))
    if keys:
        stmt = stmt.group_by(*keys)
    n = len(keys)
    return [(tuple(row[:n]), list(row[n:-1]), row[-1]) for row in await db.execute(stmt) if row[n]]


def _from_groups(
    filters: ReportFilters, group_by: list[Grouping], names: Labels, found: list[cells.Group]
) -> UsageReport:
    """The report from its groups: figures per row, median and p90 interpolated from each group's waits."""
    found.sort(key=lambda group: group[0])
    labels = [{v: names.of(g, v) for v in {group[0][i] for group in found}} for i, g in enumerate(group_by)]
    rows, totals, (median, p90) = report_rows.build(found, [g.value for g in group_by], labels)
    total = UsageFigures.model_construct(**figures.of_sums(totals, median, p90))
    return UsageReport.model_construct(filters=filters, group_by=group_by, rows=rows, total=total)


async def _postgres_raw(
    *, db: AsyncSession, filters: ReportFilters, group_by: list[Grouping], names: Labels
) -> UsageReport:
    """PostgreSQL on ledger rows: median and p90 by percentile_cont in the same aggregate query."""
    keys = await key_columns(db=db, filters=filters, group_by=group_by)
    where = conditions(filters)
    sums = [SUMS[n].label(n) for n in SUM_COLUMNS]
    stmt = select(*keys, *sums, *_wait_columns()).where(*where)
    if keys:
        stmt = stmt.group_by(*keys)
    result = [tuple(row) for row in await db.execute(stmt) if row[len(keys)]]  # no data: one all-NULL row
    result.sort(key=lambda row: row[: len(keys)])
    n_keys, n_sums = len(keys), len(SUM_COLUMNS)
    labels = [{v: names.of(g, v) for v in {row[i] for row in result}} for i, g in enumerate(group_by)]
    values = [g.value for g in group_by]
    rows: list[UsageRow] = []
    for row in result:
        key = row[:n_keys]
        fields = figures.of_sums(row[n_keys : n_keys + n_sums], _rounded(row[-2]), _rounded(row[-1]))
        fields["key"] = dict(zip(values, key, strict=True))
        fields["label"] = {name: labels[i][v] for i, (name, v) in enumerate(zip(values, key, strict=True))}
        rows.append(figures.trusted(UsageRow, fields))
    columns = list(zip(*result, strict=True)) if result else [()] * (n_keys + n_sums)
    total_sums = [sum(columns[n_keys + i]) for i in range(n_sums)]
    total_median, total_p90 = await _total_percentiles(db=db, where=where, single=result if not keys else None)
    total = UsageFigures.model_construct(**figures.of_sums(total_sums, total_median, total_p90))
    return UsageReport.model_construct(filters=filters, group_by=group_by, rows=rows, total=total)


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


async def _total_percentiles(
    *, db: AsyncSession, where: list[ColumnElement[bool]], single: list[tuple[Any, ...]] | None
) -> tuple[float | None, float | None]:
    """PostgreSQL: the total's median and p90 (an ungrouped report's one row already is the total)."""
    if single is not None:
        return (_rounded(single[0][-2]), _rounded(single[0][-1])) if single else (None, None)
    median, p90 = (await db.execute(select(*_wait_columns()).where(*where))).one()
    return _rounded(median), _rounded(p90)
