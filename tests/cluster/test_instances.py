"""Two `videodolmetschen serve` processes sharing one PostgreSQL database and one Redis act as one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.database import make_engine, make_sessionmaker, utcnow
from broker.enums import InterpreterStatus, OfferStatus
from broker.interpreter.models import InterpreterProfile
from broker.request.models import Offer
from broker.scheduler.models import Lease
from signaling.client.peer import Participant
from tests.cluster.conftest import Instance, RedisServer, instance_env
from tests.conftest import World, build_world
from tests.request.conftest import add_interpreter
from tests.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
async def cluster_db(cluster_pg_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(Settings(_env_file=None, database_url=cluster_pg_url))
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


def start_pair(instances: list[Instance], tmp_path: object, *, database_url: str, redis_url: str,
               **extra: str) -> tuple[Instance, Instance]:
    env = instance_env(database_url=database_url, redis_url=redis_url, **extra)
    a, b = Instance("a", env, tmp_path).start(), Instance("b", env, tmp_path).start()  # type: ignore[arg-type]
    instances.extend([a, b])
    a.wait_healthy()
    b.wait_healthy()
    return a, b


async def ws_url(inst: Instance, client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(f"{inst.url}/api/rtc/ws-token", headers=headers)
    assert response.status_code == 200, response.text
    return f"{inst.ws_url}?token={response.json()['token']}"


async def make_available(db: AsyncSession, user_id: int) -> None:
    await db.execute(update(InterpreterProfile).where(InterpreterProfile.user_id == user_id).values(
        online=True, status=InterpreterStatus.AVAILABLE, wants_offers=True,
        idle_since=utcnow() - timedelta(minutes=5)))
    await db.commit()


async def wait_ws_closed(participant: Participant, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while participant.ws is not None and participant.ws.state.name == "OPEN":
            await asyncio.sleep(0.01)


async def test_call_across_instances_survives_killing_one(
    cluster_pg_url: str, redis_server: RedisServer, instances: list[Instance], tmp_path: object,
    cluster_db: AsyncSession,
) -> None:
    """Caseworker on A, interpreter on B hold an aiortc call; after SIGKILL of A the counter rejoins on B."""
    world: World = await build_world(cluster_db)
    # The interpreter is online without a socket until the call: a presence grace of a minute keeps
    # the liveness sweep (grace + two beats) from sending them offline, and their offer away, while
    # a loaded machine sets the call up.
    a, b = start_pair(instances, tmp_path, database_url=cluster_pg_url, redis_url=redis_server.url,
                      VD_PRESENCE_GRACE_SECONDS="60")
    interpreter_id = world.users["interpreter"].id
    async with httpx.AsyncClient(timeout=10) as http:
        interpreter_ws = await ws_url(b, http, world.auth("interpreter"))
        counter_ws = await ws_url(a, http, world.auth("caseworker_a"))
        await make_available(cluster_db, interpreter_id)
        created = await http.post(f"{a.url}/api/requests", headers=world.auth("caseworker_a"),
                                  json={"language_code": "ar", "purpose": "residence_permit"})
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]

        async def offered() -> list[dict[str, object]]:
            return (await http.get(f"{b.url}/api/offers", headers=world.auth("interpreter"))).json()  # type: ignore[no-any-return]

        offers = await eventually(offered, message="no offer reached the interpreter on B")
        assert [o["request_id"] for o in offers] == [request_id]
        accepted = await http.post(f"{b.url}/api/offers/{offers[0]['id']}/accept", headers=world.auth("interpreter"))
        assert accepted.status_code == 200, accepted.text
        join_b = accepted.json()["join"]
        join_a = (await http.get(f"{a.url}/api/requests/{request_id}/join", headers=world.auth("caseworker_a")))
        assert join_a.status_code == 200, join_a.text
        room = join_a.json()["room_id"]

    counter = Participant(counter_ws, room=room, token=join_a.json()["token"], ice_servers=[])
    interpreter = Participant(interpreter_ws, room=room, token=join_b["token"], ice_servers=[])
    # The reconnect goes through the proxy and lands on B; the same ws token is valid there.
    again = Participant(counter_ws.replace(a.ws_url, b.ws_url), room=room, token=join_a.json()["token"],
                        ice_servers=[])
    try:
        await counter.start()
        joined = await interpreter.start()
        counter_peer = joined.peers[0].peer_id
        await interpreter.wait_frames(counter_peer, audio=5, video=5, timeout=20)
        await counter.wait_frames(joined.peer_id, audio=5, video=5, timeout=20)

        killed = time.monotonic()
        a.kill()
        await wait_ws_closed(counter)
        await counter.drop()
        rejoined = await again.start()
        assert rejoined.rejoined and rejoined.peer_id == counter_peer
        before = interpreter.frames[counter_peer]["video"] if counter_peer in interpreter.frames else 0
        await again.wait_frames(joined.peer_id, audio=3, video=3, timeout=20)
        await interpreter.wait_frames(counter_peer, audio=3, video=before + 3, timeout=20)
        elapsed = time.monotonic() - killed
        assert elapsed < 10, f"media took {elapsed:.1f}s to flow again"
    finally:
        for participant in (counter, interpreter, again):
            try:
                await asyncio.wait_for(participant.close(), 10)
            except (TimeoutError, Exception):  # noqa: BLE001 - best effort teardown of a killed call
                pass


async def test_dispatch_race_over_both_instances_has_one_winner(
    cluster_pg_url: str, redis_server: RedisServer, instances: list[Instance], tmp_path: object,
    cluster_db: AsyncSession,
) -> None:
    """Twenty interpreters accept one request at once, half through A and half through B: one wins."""
    world = await build_world(cluster_db)
    names = [f"ring{i}" for i in range(20)]
    for name in names:
        await add_interpreter(cluster_db, name, world=world)
    await cluster_db.commit()
    # The twenty are online without sockets: a presence grace of a minute keeps the liveness sweep
    # (grace + two beats) from sending them offline while a loaded machine sets the race up.
    a, b = start_pair(instances, tmp_path, database_url=cluster_pg_url, redis_url=redis_server.url,
                      VD_DISPATCH_STRATEGY="ring", VD_RING_SIZE="20", VD_PRESENCE_GRACE_SECONDS="60")
    for name in names:
        await make_available(cluster_db, world.users[name].id)
    async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=50)) as http:
        created = await http.post(f"{a.url}/api/requests", headers=world.auth("caseworker_a"),
                                  json={"language_code": "ar", "purpose": "other"})
        assert created.status_code == 201, created.text
        pending = (await cluster_db.execute(select(Offer.id, Offer.interpreter_id).where(
            Offer.status == OfferStatus.PENDING))).all()
        await cluster_db.commit()
        assert len(pending) == 20
        by_user = {u.id: n for n, u in world.users.items()}
        answers = await asyncio.gather(*(
            http.post(f"{(a, b)[i % 2].url}/api/offers/{offer_id}/accept", headers=world.auth(by_user[user_id]))
            for i, (offer_id, user_id) in enumerate(pending)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 1 and all(c in (200, 409, 410) for c in codes), codes
    accepted = (await cluster_db.execute(select(func.count()).select_from(Offer).where(
        Offer.status == OfferStatus.ACCEPTED))).scalar_one()
    assert accepted == 1


def _job_runs(inst: Instance) -> int:
    return inst.log_path.read_text(errors="replace").count("retention removed")


async def _holder(db: AsyncSession) -> str | None:
    lease = (await db.execute(select(Lease).where(Lease.name == "scheduler"))).scalar_one_or_none()
    await db.commit()
    if lease is None or lease.expires_at <= utcnow():
        return None
    return lease.holder


def _add_retention_job(database_url: str, seconds: float) -> None:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from broker.scheduler.runner import sync_database_url

    aps = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=sync_database_url(database_url))},
                              timezone="UTC")
    aps.start(paused=True)
    aps.add_job("broker.retention.scheduled:run_retention", trigger="date", id="retention-daily",
                run_date=utcnow() + timedelta(seconds=seconds), replace_existing=True,
                misfire_grace_time=None, coalesce=True)  # as the app's scheduler adds jobs
    aps.shutdown(wait=False)


async def test_scheduler_runs_jobs_once_and_moves_when_holder_dies(
    cluster_pg_url: str, redis_server: RedisServer, instances: list[Instance], tmp_path: object,
    cluster_db: AsyncSession,
) -> None:
    """One instance holds the lease; a due job runs once; SIGKILL the holder and the other takes over in time."""
    lease_seconds = 3.0
    a, b = start_pair(instances, tmp_path, database_url=cluster_pg_url, redis_url=redis_server.url)
    async with asyncio.timeout(15):
        while (holder := await _holder(cluster_db)) is None:
            await asyncio.sleep(0.1)
    pids = {a.proc.pid: a, b.proc.pid: b}  # type: ignore[union-attr]
    leader = pids[int(holder.split(":")[1])]
    other = b if leader is a else a

    await asyncio.to_thread(_add_retention_job, cluster_pg_url, 1.5)
    async with asyncio.timeout(15):
        while _job_runs(a) + _job_runs(b) == 0:
            await asyncio.sleep(0.1)
    await asyncio.sleep(lease_seconds)  # time enough for a duplicate run to show up
    assert (_job_runs(leader), _job_runs(other)) == (1, 0)

    await asyncio.to_thread(_add_retention_job, cluster_pg_url, 2.0)
    killed = time.monotonic()
    leader.kill()
    async with asyncio.timeout(lease_seconds * 3):
        while (holder := await _holder(cluster_db)) is None or int(holder.split(":")[1]) != other.proc.pid:  # type: ignore[union-attr]
            await asyncio.sleep(0.05)
    takeover = time.monotonic() - killed
    assert takeover <= lease_seconds + lease_seconds / 3 + 1.0, f"takeover took {takeover:.1f}s"
    deadline = time.monotonic() + 15
    while _job_runs(other) == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert _job_runs(other) == 1, f"survivor {other.name} ran {_job_runs(other)}x:\n{other.tail()}"
