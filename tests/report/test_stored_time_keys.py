"""Local month and hour of the week are stored with each ledger row, by every writer, DST-aware."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import RequestStatus
from broker.ledger import service as ledger_service
from broker.ledger.models import LedgerEntry, local_keys
from tests.conftest import World
from tests.ledger.test_service import finished_request
from tests.report.conftest import Ledger


def test_local_keys_follow_berlin_time() -> None:
    """31 Jan 23:30 UTC is Saturday 1 Feb 00:30 local; 1 Jul 06:30 UTC is Tuesday 08:30 in summer time."""
    assert local_keys(datetime(2025, 1, 31, 23, 30, tzinfo=UTC)) == ("2025-02", 5 * 24 + 0)
    assert local_keys(datetime(2025, 7, 1, 6, 30, tzinfo=UTC)) == ("2025-07", 1 * 24 + 8)
    assert local_keys(datetime(2025, 3, 30, 1, 0)) == ("2025-03", 6 * 24 + 3)  # naive is UTC; 03:00 CEST


async def test_the_ledger_writer_fills_the_stored_keys(db: AsyncSession, world: World) -> None:
    """record_final writes local_month and local_how from requested_at (a column default, no writer change)."""
    request = await finished_request(db, world, RequestStatus.COMPLETED)
    entry = await ledger_service.record_final(db=db, request=request)
    await db.commit()
    stored = (await db.execute(select(LedgerEntry.local_month, LedgerEntry.local_how))).one()
    assert tuple(stored) == local_keys(entry.requested_at)


async def test_fixture_rows_get_keys_matching_their_instants(db: AsyncSession, ledger: Ledger) -> None:
    """Rows inserted through the ORM without the keys get them computed per row."""
    rows = (await db.execute(select(LedgerEntry.requested_at, LedgerEntry.local_month, LedgerEntry.local_how))).all()
    assert len(rows) == 10
    assert all((month, how) == local_keys(at) for at, month, how in rows)
