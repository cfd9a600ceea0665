"""The usage report's fast path: whole local months from `usage_rollup`, the period's edges from ledger rows.

The roll-up (broker/ledger/rollup.py) carries local month, office, office kind, district and
language, so a report that groups and filters only by those is answered from its cells for
every whole month of the period; a period that starts or ends inside a month reads the ledger
rows of those part months (an index range scan of `requested_at`) and adds them per group.
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
from broker.ledger.models import UsageRollup
from broker.ledger.rollup import SUM_COLUMNS
from broker.report import timekeys
from broker.report.schemas import Grouping, ReportFilters

R = table(UsageRollup).c
ROLLUP_KEYS: dict[Grouping, Any] = {
    Grouping.LANGUAGE: R.language_code,
    Grouping.OFFICE: R.office_id,
    Grouping.OFFICE_KIND: R.office_kind,
    Grouping.DISTRICT: R.district_ags,
    Grouping.MONTH: R.local_month,
}

# One group of a report: its key values, its sums (in SUM_COLUMNS order) and its counted waits as text.
Group = tuple[tuple[Any, ...], list[int], str | None]


@dataclass(frozen=True)
class Split:
    """Which whole months the roll-up answers ('YYYY-MM', inclusive; None = open) and the raw edges."""

    first_month: str | None
    last_month: str | None
    edges: list[tuple[datetime | None, datetime | None]]


def _month_after(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def split(filters: ReportFilters, group_by: Sequence[Grouping]) -> Split | None:
    """How to answer a report from the roll-up and part-month ledger rows, or None (ledger rows only)."""
    if filters.purpose or filters.mode or filters.media or not set(group_by) <= ROLLUP_KEYS.keys():
        return None
    start, end = timekeys.period_bounds(filters.date_from, filters.date_to)
    first = last = None
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
    return Split(
        first_month=None if first is None else f"{first:%Y-%m}",
        last_month=None if last is None else f"{last:%Y-%m}",
        edges=edges,
    )


def _concat(dialect: str, expr: Any) -> ColumnElement[Any]:
    return func.group_concat(expr) if dialect == "sqlite" else func.string_agg(expr, ",")


def _rollup_filters(filters: ReportFilters, part: Split) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if part.first_month is not None:
        where.append(R.local_month >= part.first_month)
    if part.last_month is not None:
        where.append(R.local_month <= part.last_month)
    for values, column in (
        (filters.office_id, R.office_id),
        ([k.value for k in filters.office_kind], R.office_kind),
        (filters.district, R.district_ags),
        (filters.language, R.language_code),
    ):
        if values:
            where.append(column.in_(values))
    return where


async def groups(
    *, db: AsyncSession, filters: ReportFilters, group_by: Sequence[Grouping], part: Split, edge_keys: list[Any],
    edge_sums: Sequence[ColumnElement[Any]], counted_wait: ColumnElement[bool],
) -> list[Group]:
    """Every group's sums and waits: the roll-up's cells of the whole months plus the edges' ledger rows.

    `edge_keys`, `edge_sums` and `counted_wait` are the ledger-row forms of the same keys and
    sums (broker/report/service.py), so an edge row counts exactly as it does in the cell.
    """
    dialect = db.get_bind().dialect.name
    keys = [ROLLUP_KEYS[g].label(f"k_{g.value}") for g in group_by]
    stmt = select(*keys, *(func.sum(R[name]) for name in SUM_COLUMNS), _concat(dialect, R.waits)).where(
        *_rollup_filters(filters, part)
    )
    if keys:
        stmt = stmt.group_by(*keys)
    n = len(keys)
    out: list[Group] = []
    for row in await db.execute(stmt):
        if row[n]:  # an ungrouped query over no cells is one all-NULL row
            group = (tuple(row[:n]), list(row[n : n + len(SUM_COLUMNS)]), row[-1])
            out.append(group)
    if not part.edges:
        return out
    by_key = {key: i for i, (key, _, _) in enumerate(out)}
    ranges = [
        (L.requested_at >= start) & (L.requested_at < end)
        if start is not None and end is not None
        else (L.requested_at >= start if start is not None else L.requested_at < end)
        for start, end in part.edges
    ]
    wait = case((counted_wait, cast(L.wait_seconds, String)))
    edge = select(*edge_keys, *edge_sums, _concat(dialect, wait)).where(or_(*ranges), *dimension_filters(filters))
    if edge_keys:
        edge = edge.group_by(*edge_keys)
    for row in await db.execute(edge):
        if not row[n]:
            continue
        key, sums, waits = tuple(row[:n]), list(row[n : n + len(SUM_COLUMNS)]), row[-1]
        if key in by_key:
            _, old_sums, old_waits = out[by_key[key]]
            both = ",".join(w for w in (old_waits, waits) if w) or None
            out[by_key[key]] = (key, [a + b for a, b in zip(old_sums, sums, strict=True)], both)
        else:
            by_key[key] = len(out)
            out.append((key, sums, waits))
    return out


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
