"""Local-time buckets (month, ISO week, hour of the week) as SQL on SQLite and PostgreSQL.

The ledger stores UTC; managers think in Thuringian local time ("Monday 9–11"). PostgreSQL
converts with `AT TIME ZONE`. SQLite has no time zones, so the UTC offset (+1 h or +2 h) is a
CASE over the DST transitions of the years in question, nested as a balanced binary tree:
about log2(2·years) text comparisons per row instead of a Python callback per row (which is
several times slower on a million rows). Reports read month and hour of the week from the
columns stored with each ledger row (`local_month`, `local_how`); the SQL forms here serve ISO
weeks and any query over instants other than `requested_at`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, String, case, cast, extract, func, literal
from sqlalchemy.sql.elements import ColumnElement

from broker.ledger.models import LOCAL_TZ
from broker.report.schemas import Grouping

WEEKDAYS_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local_midnight_utc(day: date) -> datetime:
    """The UTC instant at which `day` begins in Thuringia."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def period_bounds(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    """Half-open UTC bounds [start, end) for inclusive local dates."""
    start = local_midnight_utc(date_from) if date_from else None
    end = local_midnight_utc(date_to + timedelta(days=1)) if date_to else None
    return start, end


def dst_transitions(first_year: int, last_year: int) -> list[tuple[datetime, int]]:
    """(UTC instant, offset hours from then on) for every offset change in the years given."""
    changes: list[tuple[datetime, int]] = []
    probe = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    offset = _offset_hours(probe)
    # Hourly stepping would be 8,760 probes a year; days then hours is plenty fast.
    while probe < end:
        nxt = probe + timedelta(days=1)
        if _offset_hours(nxt) != offset:
            hour = probe
            while _offset_hours(hour) == offset:
                hour += timedelta(hours=1)
            offset = _offset_hours(hour)
            changes.append((hour, offset))
        probe = nxt
    return changes


def _offset_hours(instant: datetime) -> int:
    delta = instant.astimezone(LOCAL_TZ).utcoffset()
    assert delta is not None
    return int(delta.total_seconds() // 3600)


def _sqlite_offset(column: Any, first_year: int, last_year: int) -> ColumnElement[Any]:
    """A SQLite modifier string ('+1 hours' / '+2 hours') for the row's UTC instant."""
    transitions = dst_transitions(first_year, last_year)
    initial = _offset_hours(datetime(first_year, 1, 1, tzinfo=UTC))

    def modifier(hours: int) -> ColumnElement[Any]:
        return literal(f"+{hours} hours", String)

    def tree(lo: int, hi: int, before: int) -> ColumnElement[Any]:
        # transitions[lo:hi] decide; `before` is the offset in force before transitions[lo].
        if lo >= hi:
            return modifier(before)
        mid = (lo + hi) // 2
        left_before = before
        right_before = transitions[mid][1]
        return case(
            (column < transitions[mid][0], tree(lo, mid, left_before)),
            else_=tree(mid + 1, hi, right_before),
        )

    return tree(0, len(transitions), initial) if transitions else modifier(initial)


def time_key(grouping: Grouping, column: Any, dialect: str, years: tuple[int, int]) -> ColumnElement[Any]:
    """SQL for one time grouping: 'YYYY-MM', the Monday 'YYYY-MM-DD', or hour of week 0..167."""
    if dialect == "postgresql":
        local = func.timezone(str(LOCAL_TZ), column)
        if grouping is Grouping.MONTH:
            return func.to_char(local, "YYYY-MM")
        if grouping is Grouping.WEEK:
            return func.to_char(func.date_trunc("week", local), "YYYY-MM-DD")
        return cast((extract("isodow", local) - 1) * 24 + extract("hour", local), Integer)
    shifted = func.datetime(column, _sqlite_offset(column, *years), type_=String)
    if grouping is Grouping.MONTH:
        return func.substr(shifted, 1, 7)
    if grouping is Grouping.WEEK:
        return func.date(shifted, "-6 days", "weekday 1", type_=String)
    weekday = (cast(func.strftime("%w", shifted), Integer) + 6) % 7
    return weekday * 24 + cast(func.substr(shifted, 12, 2), Integer)


def time_label(grouping: Grouping, value: str | int) -> str:
    if grouping is Grouping.MONTH:
        return str(value)
    if grouping is Grouping.WEEK:
        year, week, _ = date.fromisoformat(str(value)).isocalendar()
        return f"{year}-W{week:02d}"
    weekday, hour = divmod(int(value), 24)
    return f"{WEEKDAYS_DE[weekday]} {hour:02d}:00"
