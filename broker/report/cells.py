"""The usage report's fast path: whole local years and months from the roll-ups, the edges from ledger rows.

The roll-ups (broker/ledger/rollup.py) carry local year or month, office, office kind, district
and language, so a report that groups and filters only by those is answered from their cells:
whole years from `usage_rollup_year` (unless the report groups by month), the whole months
around them from `usage_rollup`, and a period that starts or ends inside a month reads the
ledger rows of those part months (an index range scan of `requested_at`) and adds them per group.
Anything else (purpose, mode or media as filter or grouping, ISO week, hour of the week, a
period shorter than a month) stays on the ledger rows: `split` says which.

Both parts return per group the same sums and the group's counted waits as comma-separated
text (`group_concat` / `string_agg`), so median and p90 are exact on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from broker.database import table
from broker.ledger.models import LedgerEntry as L
from broker.ledger.models import UsageRollup, UsageRollupYear
from broker.ledger.rollup import SUM_COLUMNS
from broker.report import timekeys
from broker.report.schemas import Grouping, ReportFilters

R = table(UsageRollup).c
Y = table(UsageRollupYear).c


def _keys(columns: Any, period: Any) -> dict[Grouping, Any]:
    return {
        Grouping.LANGUAGE: columns.language_code,
        Grouping.OFFICE: columns.office_id,
        Grouping.OFFICE_KIND: columns.office_kind,
        Grouping.DISTRICT: columns.district_ags,
        Grouping.MONTH: period,
    }


ROLLUP_KEYS = _keys(R, R.local_month)
YEAR_KEYS: dict[Grouping, Any] = {g: column for g, column in _keys(Y, None).items() if g is not Grouping.MONTH}

# One group of a report: its key values, its sums (in SUM_COLUMNS order) and its counted waits as text.
Group = tuple[tuple[Any, ...], list[int], str | None]
# An inclusive range of periods ('YYYY' or 'YYYY-MM'); None is open on that side.
Span = tuple[str | None, str | None]


@dataclass(frozen=True)
class Split:
    """Which whole years and whole months the roll-ups answer, and the part-month edges from ledger rows."""

    years: Span | None
    months: list[Span]
    edges: list[tuple[datetime | None, datetime | None]]


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def split(filters: ReportFilters, group_by: Sequence[Grouping]) -> Split | None:
    """How to answer a report from the roll-ups and part-month ledger rows, or None (ledger rows only)."""
    if filters.purpose or filters.mode or filters.media or not set(group_by) <= ROLLUP_KEYS.keys():
        return None
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    first = last = None  # the first and last whole month (its first day)
    edges: list[tuple[datetime | None, datetime | None]] = []
    if filters.date_from is not None:
        first = filters.date_from if filters.date_from.day == 1 else _month_after(filters.date_from)
    if filters.date_to is not None:
        after = _month_after(filters.date_to)
        last = filters.date_to.replace(day=1) if filters.date_to + timedelta(days=1) == after else (
            filters.date_to.replace(day=1) - timedelta(days=1)).replace(day=1)
    if first is not None and last is not None and first > last:
        return None  # no whole month inside the period
    if first is not None and filters.date_from != first:
        edges.append((start, timekeys.local_midnight_utc(first)))
    if last is not None and filters.date_to != _month_after(last) - timedelta(days=1):
        edges.append((timekeys.local_midnight_utc(_month_after(last)), end))
    months = (_month(first), _month(last))
    if Grouping.MONTH in group_by:
        return Split(years=None, months=[months], edges=edges)
    first_year = None if first is None else first.year + (first.month != 1)
    last_year = None if last is None else last.year - (last.month != 12)
    if first_year is not None and last_year is not None and first_year > last_year:
        return Split(years=None, months=[months], edges=edges)  # no whole year inside
    around: list[Span] = []
    if first is not None and first.month != 1:
        around.append((_month(first), f"{first.year:04d}-12"))
    if last is not None and last.month != 12:
        around.append((f"{last.year:04d}-01", _month(last)))
    years = (None if first_year is None else f"{first_year:04d}", None if last_year is None else f"{last_year:04d}")
    return Split(years=years, months=around, edges=edges)


def _month(day: date | None) -> str | None:
    return None if day is None else f"{day:%Y-%m}"


def _concat(dialect: str, expr: Any) -> ColumnElement[Any]:
    return func.group_concat(expr) if dialect == "sqlite" else func.string_agg(expr, ",")


def _cell_filters(filters: ReportFilters, columns: Any, period: Any, span: Span) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if span[0] is not None:
        where.append(period >= span[0])
    if span[1] is not None:
        where.append(period <= span[1])
    for values, column in (
        (filters.office_id, columns.office_id),
        ([k.value for k in filters.office_kind], columns.office_kind),
        (filters.district, columns.district_ags),
        (filters.language, columns.language_code),
    ):
        if values:
            where.append(column.in_(values))
    return where


async def groups(
    *, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping], part: Split, edge_keys: list[Any],
    edge_sums: Sequence[ColumnElement[Any]], counted_wait: ColumnElement[bool],
) -> list[Group]:
    """Every group's sums and waits: year cells, month cells and the edges' ledger rows, added per group.

    `edge_keys`, `edge_sums` and `counted_wait` are the ledger-row forms of the same keys and
    sums (broker/report/service.py), so an edge row counts exactly as it does in the cell.
    """
    dialect = db.get_bind().dialect.name
    statements = []
    sources = [(Y, Y.local_year, YEAR_KEYS, part.years)] if part.years is not None else []
    sources += [(R, R.local_month, ROLLUP_KEYS, span) for span in part.months]
    for columns, period, key_map, span in sources:
        keys = [key_map[g].label(f"k_{g.value}") for g in group_by]
        stmt = select(*keys, *(func.sum(columns[name]) for name in SUM_COLUMNS), _concat(dialect, columns.waits))
        stmt = stmt.where(*_cell_filters(filters, columns, period, span))
        statements.append(stmt.group_by(*keys) if keys else stmt)
    if part.edges:
        ranges = [
            (L.requested_at >= start) & (L.requested_at < end)
            if start is not None and end is not None
            else (L.requested_at >= start if start is not None else L.requested_at < end)
            for start, end in part.edges
        ]
        wait = case((counted_wait, cast(L.wait_seconds, String)))
        edge = select(*edge_keys, *edge_sums, _concat(dialect, wait)).where(or_(*ranges), *dimension_filters(filters))
        statements.append(edge.group_by(*edge_keys) if edge_keys else edge)
    n = len(group_by)
    parts = [
        [(tuple(row[:n]), list(row[n : n + len(SUM_COLUMNS)]), row[-1]) for row in await db.execute(stmt) if row[n]]
        for stmt in statements  # an ungrouped query over no cells is one all-NULL row: dropped by `if row[n]`
    ]
    return parts[0] if len(parts) == 1 else _added(parts)


def _added(parts: list[list[Group]]) -> list[Group]:
    """The groups of several parts, added where a key is in more than one."""
    out: dict[tuple[Any, ...], Group] = {}
    for found in parts:
        for key, sums, waits in found:
            if key in out:
                _, old_sums, old_waits = out[key]
                both = ",".join(w for w in (old_waits, waits) if w) or None
                out[key] = (key, [a + b for a, b in zip(old_sums, sums, strict=True)], both)
            else:
                out[key] = (key, sums, waits)
    return list(out.values())


def dimension_filters(filters: ReportFilters) -> list[ColumnElement[bool]]:
    """The ledger conditions of every filter but the period (the fast path only sees the first four)."""
    where: list[ColumnElement[bool]] = []
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
