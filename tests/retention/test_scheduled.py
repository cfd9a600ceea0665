"""The daily retention job on the scheduler: runs on the leader, commits, and books tomorrow's run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.database import utcnow
from broker.request.models import IdempotencyKey
from broker.retention import scheduled
from broker.scheduler.runner import _RUNTIME, Scheduler
from tests.conftest import World


def test_next_run_is_the_coming_2_15_utc() -> None:
    """Before 02:15 the job runs today, after it tomorrow."""
    early = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
    late = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)
    assert scheduled.next_run(early) == datetime(2026, 5, 4, 2, 15, tzinfo=UTC)
    assert scheduled.next_run(late) == datetime(2026, 5, 5, 2, 15, tzinfo=UTC)


async def test_leader_adds_the_job_and_a_run_purges_and_reschedules(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], db: AsyncSession, world: World,
) -> None:
    """Taking the lease adds the daily job; running it purges old keys and books the next day."""
    db.add(IdempotencyKey(user_id=world.users["caseworker_a"].id, scope="s", key="old", body_hash="0" * 64,
                          status_code=201, response_body="{}", created_at=utcnow() - timedelta(days=120)))
    await db.commit()
    scheduler = Scheduler(settings=settings, sessionmaker=sessionmaker, lease_seconds=3)
    await scheduler.start()
    try:
        scheduled.register(scheduler)
        await scheduled.ensure_job(scheduler)
        assert scheduled.JOB_ID in await scheduler.job_ids()
        token = _RUNTIME.set(scheduler.runtime)
        try:
            result = await scheduled.run_retention()
        finally:
            _RUNTIME.reset(token)
        assert result["idempotency_keys"] == 1
        assert scheduled.JOB_ID in await scheduler.job_ids()
        count = (await db.execute(select(func.count()).select_from(IdempotencyKey))).scalar_one()
        await db.rollback()  # SQLite: end the read transaction before the lease is released
        assert count == 0
    finally:
        await scheduler.stop()
