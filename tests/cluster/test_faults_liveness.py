"""Ghost interpreters: after both instances die together, nobody who did not come back stays online."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus
from broker.interpreter.models import InterpreterProfile, PresenceInterval
from tests.cluster.conftest import Instance, RedisServer
from tests.cluster.test_instances import cluster_db, start_pair, ws_url  # noqa: F401
from tests.conftest import build_world
from tests.signaling.conftest import Client

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def _profile(db: AsyncSession, user_id: int) -> InterpreterProfile:
    profile = (await db.execute(select(InterpreterProfile).where(InterpreterProfile.user_id == user_id)
                                .execution_options(populate_existing=True))).scalar_one()
    await db.commit()
    return profile


async def _open_intervals(db: AsyncSession, user_id: int) -> int:
    rows = (await db.execute(select(PresenceInterval.id).where(
        PresenceInterval.interpreter_id == user_id, PresenceInterval.ended_at.is_(None)))).all()
    await db.commit()
    return len(rows)


async def test_interpreter_of_a_whole_cluster_crash_goes_offline_after_the_grace(
    cluster_pg_url: str, redis_server: RedisServer, instances: list[Instance], tmp_path: object,
    cluster_db: AsyncSession,  # noqa: F811
) -> None:
    """An interpreter online through A; A and B are SIGKILLed together and A comes back, the
    interpreter does not: within the grace period plus two heartbeats of A's start they are
    offline, not available, and their presence interval is closed (it used to stay open for ever)."""
    world = await build_world(cluster_db)
    interpreter_id = world.users["interpreter"].id
    a, b = start_pair(instances, tmp_path, database_url=cluster_pg_url, redis_url=redis_server.url)
    async with httpx.AsyncClient(timeout=30) as http:
        socket_url = await ws_url(a, http, world.auth("interpreter"))
    interpreter = await Client.open(SimpleNamespace(ws_url=socket_url), origin=None)  # type: ignore[arg-type]
    async with asyncio.timeout(15):
        while not (await _profile(cluster_db, interpreter_id)).online:
            await asyncio.sleep(0.1)
    assert (await _profile(cluster_db, interpreter_id)).status is InterpreterStatus.AVAILABLE
    assert await _open_intervals(cluster_db, interpreter_id) == 1

    a.kill()
    b.kill()
    again = Instance("a2", a.env, tmp_path).start()  # type: ignore[arg-type]
    instances.append(again)
    again.wait_healthy()
    up = time.monotonic()
    grace, beat = 2.0, 1.0  # VD_PRESENCE_GRACE_SECONDS in instance_env; beat = grace / 2
    async with asyncio.timeout(grace + 2 * beat + 10):
        while (profile := await _profile(cluster_db, interpreter_id)).online:
            await asyncio.sleep(0.2)
    assert time.monotonic() - up >= grace * 0.9, "judged before the grace period was over"
    assert profile.status is InterpreterStatus.OFFLINE
    assert await _open_intervals(cluster_db, interpreter_id) == 0
    del interpreter
