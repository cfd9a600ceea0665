"""The ledger XLSX export (formatted per column kind, read in partitions) holds exactly the ledger's values."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.ledger.models import LedgerEntry
from broker.report import export
from broker.report.schemas import ReportFilters
from tests.report.conftest import Ledger


def _expected(entry: LedgerEntry, name: str) -> object:
    value = getattr(entry, name)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return getattr(value, "value", value)


async def test_ledger_xlsx_reads_back_as_the_ledger_rows(db: AsyncSession, ledger: Ledger) -> None:
    """Every cell of the exported sheet equals its ledger value: ids, codes, texts, flags, UTC instants."""
    filters = ReportFilters.model_validate({"from": "2025-01-01", "to": "2025-02-28"})
    handle = await export.ledger_xlsx(db=db, filters=filters, batch=3)  # several partitions
    book = load_workbook(io.BytesIO(b"".join(export.file_chunks(handle))), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == export.LEDGER_COLUMNS
    entries = (await db.execute(select(LedgerEntry).where(LedgerEntry.requested_at < datetime(2025, 3, 1, tzinfo=UTC))
                                .order_by(LedgerEntry.requested_at, LedgerEntry.id))).scalars().all()
    assert len(rows) - 1 == len(entries) == 9
    for got, entry in zip(rows[1:], entries, strict=True):
        for name, value in zip(export.LEDGER_COLUMNS, got, strict=True):
            want = _expected(entry, name)
            if isinstance(want, datetime):
                assert isinstance(value, datetime) and abs(value - want) < timedelta(milliseconds=1), name
            else:
                assert value == want, (name, value, want)
