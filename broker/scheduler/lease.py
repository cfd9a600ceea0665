"""A named lease in the database: whoever holds an unexpired lease is the one active scheduler.

Acquire and renew are one conditional UPDATE (a row count of 1 means we hold it), with an
INSERT … ON CONFLICT DO NOTHING for the very first holder, so two processes racing for an
expired lease get one clear winner on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import utcnow
from broker.scheduler.models import Lease


async def acquire(*, db: AsyncSession, name: str, holder: str, seconds: float,
                  now: datetime | None = None) -> bool:
    """Take or renew the lease; True if `holder` holds it for the next `seconds`."""
    now = now or utcnow()
    expires_at = now + timedelta(seconds=seconds)
    stmt = (
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(holder=holder, expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )
    result = await db.execute(stmt)
    assert isinstance(result, CursorResult)
    if result.rowcount == 1:
        return True
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = await db.execute(
        insert(Lease).values(name=name, holder=holder, expires_at=expires_at).on_conflict_do_nothing()
    )
    assert isinstance(inserted, CursorResult)
    return inserted.rowcount == 1


async def release(*, db: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up at once so another instance takes over without waiting for expiry."""
    await db.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))



async def seconds_left(*, db: AsyncSession, name: str, now: datetime | None = None) -> float | None:
    """Seconds until the lease expires (negative: expired), or None without a lease row."""
    expires_at = (await db.execute(select(Lease.expires_at).where(Lease.name == name))).scalar_one_or_none()
    if expires_at is None:
        return None
    return (expires_at - (now or utcnow())).total_seconds()
