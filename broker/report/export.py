"""CSV and XLSX exports, streamed: rows flow from the database cursor to the client in chunks.

XLSX is written by `xlsx.py` (each row goes straight into the zipped sheet XML in a temporary
file, never a DOM of cells), and the finished file is sent in 64 KiB pieces, so a year of ledger rows stays far
below the 300 MiB budget. Small-cell suppression follows docs/reports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from enum import Enum
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.ledger.models import LedgerEntry as L
from broker.report import service
from broker.report.schemas import Grouping, ReportFilters, UsageReport
from broker.report.xlsx import XlsxWriter

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


def suppress(
    row: dict[str, Any],
    min_count: int,
    *,
    counts: frozenset[str] = COUNT_COLUMNS,
    derived: dict[str, tuple[str, ...]] = DERIVED_FROM,
) -> dict[str, Any]:
    """Replace counts 1..min_count-1 (and figures derived from them) by the text '<min_count'."""
    if min_count <= 1:
        return row
    marker = f"<{min_count}"
    hidden = {c for c in counts if isinstance(row.get(c), int) and 0 < row[c] < min_count}
    out = dict(row)
    for column in hidden:
        out[column] = marker
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


async def ledger_xlsx(*, db: AsyncSession, filters: ReportFilters) -> IO[bytes]:
    writer = XlsxWriter(LEDGER_COLUMNS, title="ledger")
    async for row in ledger_rows(db=db, filters=filters):
        writer.append(row)
    return writer.finish()


async def ledger_csv(*, db: AsyncSession, filters: ReportFilters) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(LEDGER_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    count = 0
    async for row in ledger_rows(db=db, filters=filters):
        writer.writerow({k: _plain(v) for k, v in row.items()})
        count += 1
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- open data -------------------------------------------------------------------------------

OPEN_DATA_GROUPING = (Grouping.MONTH, Grouping.DISTRICT, Grouping.OFFICE_KIND, Grouping.LANGUAGE)
OPEN_DATA_COLUMNS = (
    "month",
    "district_ags",
    "district_name",
    "office_kind",
    "language_code",
    "language_name",
    "requests",
    "sessions",
    "talk_minutes",
    "unmet",
    "unmet_share",
    "wait_median_s",
    "wait_p90_s",
)


async def open_data_csv(*, db: AsyncSession, filters: ReportFilters, min_count: int) -> Iterator[str]:
    """The documented open-data table (docs/reports.md), always with small cells suppressed."""
    report = await service.usage_report(db=db, filters=filters, group_by=list(OPEN_DATA_GROUPING))

    def rows() -> Iterator[dict[str, Any]]:
        for row in report.rows:
            flat = {
                "month": row.key["month"],
                "district_ags": row.key["district"],
                "district_name": row.label["district"],
                "office_kind": row.key["office_kind"],
                "language_code": row.key["language"],
                "language_name": row.label["language"],
                **row.model_dump(include=set(FIGURE_COLUMNS)),
            }
            yield suppress(flat, max(min_count, 1))

    return csv_chunks(OPEN_DATA_COLUMNS, rows())
