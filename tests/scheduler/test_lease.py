"""The database lease: one holder at a time, renewal, takeover after expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.database import utcnow
from broker.scheduler import lease


async def test_one_holder_renewal_and_takeover_after_expiry(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The first taker holds the lease and may renew it; another gets it only once it has expired."""
    now = utcnow()

    async def take(holder: str, at_offset: float) -> bool:
        async with sessionmaker() as db:
            got = await lease.acquire(db=db, name="t", holder=holder, seconds=10,
                                      now=now + timedelta(seconds=at_offset))
            await db.commit()
            return got

    assert await take("a", 0)
    assert not await take("b", 1)
    assert await take("a", 5)  # renewal: now valid until +15
    assert not await take("b", 14)
    assert await take("b", 15.5)
    assert not await take("a", 16)


async def test_concurrent_first_acquire_has_one_winner(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Ten processes racing for a fresh lease: exactly one gets it."""
    async def take(holder: str) -> bool:
        async with sessionmaker() as db:
            got = await lease.acquire(db=db, name="race", holder=holder, seconds=30)
            await db.commit()
            return got

    results = await asyncio.gather(*(take(f"p{i}") for i in range(10)))
    assert sum(results) == 1
