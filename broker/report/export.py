"""CSV and XLSX exports, streamed: rows flow from the database cursor to the client in chunks.

XLSX is written by `xlsx.py` (each row goes straight into the zipped sheet XML in a temporary
file, never a DOM of cells), and the finished file is sent in 64 KiB pieces, so a year of ledger rows stays far
below the 300 MiB budget. Small-cell suppression follows docs/reports.md.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import Enum
from typing import IO, Any

from sqlalchemy import DateTime, String, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from broker.ledger.models import LedgerEntry as L
from broker.report import opendata, service
from broker.report.schemas import Grouping, ReportFilters, UsageReport
from broker.report.xlsx import XlsxWriter, row_xml

CSV_CHUNK_ROWS = 500
FILE_CHUNK_BYTES = 64 * 1024

FIGURE_COLUMNS = (
    "requests",
    "demand",
    "sessions",
    "talk_minutes",
    "requests_on_demand",
    "requests_booked",
    "sessions_on_demand",
    "sessions_booked",
    "waits_measured",
    "waits_censored",
    "wait_median_s",
    "wait_p90_s",
    "fill_rate",
    "unmet",
    "unmet_share",
    "no_shows",
    "late_cancellations",
    "ratings",
    "mean_rating",
    "with_problems",
    "problem_share",
)
COUNT_COLUMNS = frozenset(
    {
        "requests",
        "demand",
        "sessions",
        "requests_on_demand",
        "requests_booked",
        "sessions_on_demand",
        "sessions_booked",
        "waits_measured",
        "waits_censored",
        "unmet",
        "no_shows",
        "late_cancellations",
        "ratings",
        "with_problems",
    }
)
# A derived figure is hidden when any count it is computed from is hidden.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "talk_minutes": ("sessions",),
    "wait_median_s": ("waits_measured", "waits_censored"),
    "wait_p90_s": ("waits_measured", "waits_censored"),
    "fill_rate": ("sessions", "demand"),
    "unmet_share": ("unmet", "demand"),
    "mean_rating": ("ratings",),
    "problem_share": ("with_problems", "sessions"),
}
LEDGER_COLUMNS = (
    "id",
    "office_id",
    "office_kind",
    "district_ags",
    "language_code",
    "purpose",
    "mode",
    "media",
    "requested_at",
    "connected_at",
    "ended_at",
    "wait_seconds",
    "talk_seconds",
    "outcome",
    "offers_made",
    "interpreter_id",
    "rating",
    "problems",
    "late_cancellation",
)


# Counts that add up within a row: a hidden part would be the total minus the visible part.
ROW_SUMS: tuple[tuple[str, str, str], ...] = (
    ("requests", "requests_on_demand", "requests_booked"),
    ("sessions", "sessions_on_demand", "sessions_booked"),
)
SECONDARY = "."


def suppress(
    row: dict[str, Any],
    min_count: int,
    *,
    counts: frozenset[str] = COUNT_COLUMNS,
    derived: dict[str, tuple[str, ...]] = DERIVED_FROM,
) -> dict[str, Any]:
    """Replace counts 1..min_count-1 (and figures derived from them) by the text '<min_count'.

    Within the row, where a total and its two parts are published (requests = on demand +
    booked), one hidden part would follow from the other two: the smaller visible part is then
    withheld too, as '.' (it is not small, just hidden to protect its neighbour).
    """
    if min_count <= 1:
        return row
    marker = f"<{min_count}"
    hidden = {c for c in counts if isinstance(row.get(c), int) and 0 < row[c] < min_count}
    out = dict(row)
    for column in hidden:
        out[column] = marker
    for total, *parts in ROW_SUMS:
        members = [total, *parts]
        if all(m in row for m in members) and sum(m in hidden for m in members) == 1:
            visible = [m for m in members if m not in hidden and isinstance(row[m], int) and row[m] > 0]
            if len(visible) == 2:
                extra = min((m for m in visible if m != total), key=lambda m: row[m], default=None)
                if extra is not None:
                    hidden.add(extra)
                    out[extra] = SECONDARY
    for column, bases in derived.items():
        if column in out and any(b in hidden for b in bases):
            out[column] = marker
    return out


def usage_table(report: UsageReport, *, min_count: int = 0) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Header and rows of a usage report, keys and labels first, optionally suppressed."""
    header: list[str] = []
    for grouping in report.group_by:
        header.append(grouping.value)
        if grouping not in (Grouping.MODE, Grouping.MEDIA, Grouping.OFFICE_KIND, Grouping.MONTH):
            header.append(f"{grouping.value}_label")
    header.extend(FIGURE_COLUMNS)

    def rows() -> Iterator[dict[str, Any]]:
        for row in report.rows:
            flat: dict[str, Any] = {}
            for grouping in report.group_by:
                flat[grouping.value] = row.key[grouping.value]
                flat[f"{grouping.value}_label"] = row.label[grouping.value]
            flat.update(row.model_dump(include=set(FIGURE_COLUMNS)))
            yield suppress(flat, min_count)

    return header, rows()


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """RFC 4180 CSV (UTF-8, comma, '.' decimals) in chunks of a few hundred rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(header), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for index, row in enumerate(rows, start=1):
        writer.writerow({k: _plain(v) for k, v in row.items()})
        if index % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    """Yield a finished file in pieces and close it (the temporary file vanishes on close)."""
    try:
        while chunk := handle.read(FILE_CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


def xlsx_file(header: Sequence[str], rows: Iterable[dict[str, Any]], *, title: str = "report") -> IO[bytes]:
    writer = XlsxWriter(header, title=title)
    for row in rows:
        writer.append(row)
    return writer.finish()


async def ledger_rows(*, db: AsyncSession, filters: ReportFilters, batch: int = 2000) -> AsyncIterator[dict[str, Any]]:
    """The pseudonymous ledger rows a filter selects, streamed from a server-side cursor."""
    await service.validate_filters(db=db, filters=filters)
    columns = [getattr(L, name) for name in LEDGER_COLUMNS]
    stmt = (
        select(*columns)
        .where(*service.conditions(filters))
        .order_by(L.requested_at, L.id)
        .execution_options(yield_per=batch)
    )
    result = await db.stream(stmt)
    async for row in result:
        yield dict(zip(LEDGER_COLUMNS, row, strict=True))


async def ledger_xlsx(*, db: AsyncSession, filters: ReportFilters, batch: int = 5000) -> IO[bytes]:
    """The ledger rows of a filter as XLSX: raw values a batch at a time, each row formatted by column kind.

    Enums are read as their stored text and instants without the UTC wrapper's per-value step
    (naive UTC on SQLite, aware on PostgreSQL: the writer takes both), and the cursor is read in
    partitions, not row by row: a year of ledger rows took 5 s the general way.
    """
    await service.validate_filters(db=db, filters=filters)
    columns = [getattr(L, name) for name in LEDGER_COLUMNS]
    kinds = [_XLSX_KINDS.get(name, "int") for name in LEDGER_COLUMNS]
    raw = [type_coerce(c, DateTime()) if k == "time" else type_coerce(c, String()) if k == "text" else c
           for c, k in zip(columns, kinds, strict=True)]
    stmt = (
        select(*raw).where(*service.conditions(filters)).order_by(L.requested_at, L.id)
        .execution_options(yield_per=batch)
    )
    writer = XlsxWriter(LEDGER_COLUMNS, title="ledger")
    row = row_xml(kinds)
    result = await db.stream(stmt)
    async for partition in result.partitions():
        writer.append_xml([row(values) for values in partition])
    return writer.finish()


_XLSX_KINDS = {
    "office_kind": "text", "district_ags": "text", "language_code": "text", "purpose": "text", "mode": "text",
    "media": "text", "outcome": "text", "problems": "text", "requested_at": "time", "connected_at": "time",
    "ended_at": "time", "late_cancellation": "bool",
}


async def ledger_csv_file(*, db: AsyncSession, filters: ReportFilters) -> IO[bytes]:
    """The ledger rows of a filter as a finished UTF-8 CSV in a temporary file (deleted on close)."""
    handle = tempfile.TemporaryFile()
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=list(LEDGER_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    async for row in ledger_rows(db=db, filters=filters):
        writer.writerow({k: _plain(v) for k, v in row.items()})
    text.flush()
    text.detach()  # keep the binary file open for streaming
    handle.seek(0)
    return handle


# --- open data -------------------------------------------------------------------------------


async def open_data_csv(*, db: AsyncSession, filters: ReportFilters, min_count: int, today: date) -> Iterator[str]:
    """The documented open-data table (docs/reports.md): whole completed months, protected suppression."""
    period = opendata.published_period(filters, today)
    rows = await opendata.open_data_rows(db=db, filters=period, min_count=min_count)
    return csv_chunks(opendata.COLUMNS, rows)
