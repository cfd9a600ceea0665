"""The Redis backplane with two hubs in one process: notify, presence, rooms and calls span instances."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from signaling.client.peer import Participant
from signaling.cluster import REMOTE
from tests.cluster.conftest import RedisServer, cluster_server
from tests.signaling.conftest import Client
from tests.waiting import eventually

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


async def _until(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    await eventually(predicate, timeout=timeout, message="condition not reached in time")


async def _next_event(client: Client, timeout: float = 5.0) -> dict[str, object]:
    while True:
        frame = await client.recv(timeout)
        if frame["type"] == "event":
            return frame


async def test_notify_reaches_a_user_on_the_other_instance(redis_server: RedisServer) -> None:
    """An event the broker sends on B reaches the user's socket on A, and nobody else."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        alice = await Client.open(a, user=1)
        bob = await Client.open(a, user=2)
        await b.hub.notify(1, {"type": "offer", "offer_id": 7})
        frame = await _next_event(alice)
        assert frame["event"] == {"type": "offer", "offer_id": 7}
        with pytest.raises(TimeoutError):
            await bob.recv(timeout=0.3)
        await alice.close()
        await bob.close()


async def test_presence_is_shared_and_ends_after_grace(redis_server: RedisServer) -> None:
    """A user online on A is online for B; after the socket closes and the grace passes, offline on both."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        client = await Client.open(a, user=5)
        await _until(lambda: b.hub.is_online(5))
        await client.close()
        await _until(lambda: not b.hub.is_online(5) and not a.hub.is_online(5), timeout=5)


async def test_fresh_instance_learns_who_is_online(redis_server: RedisServer) -> None:
    """An instance started after a user came online on another one still sees that user online."""
    async with cluster_server(redis_server.url) as a:
        client = await Client.open(a, user=9)
        await _until(lambda: a.hub.is_online(9))
        async with cluster_server(redis_server.url) as b:
            await _until(lambda: b.hub.is_online(9))
        await client.close()


async def test_aiortc_call_across_instances(redis_server: RedisServer) -> None:
    """Counter on A, interpreter on B, room opened on B: media flows both ways."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        b.open_room("call-x")
        await b.hub.flush()
        counter = Participant(a.ws_url + "?user=1", room="call-x", token=b.token("call-x", "counter", 1),
                              ice_servers=[])
        interpreter = b.participant("call-x", "interpreter", 2, ice_servers=[])
        try:
            async with asyncio.timeout(60):  # fail fast instead of hanging the suite
                await counter.start()
                joined = await interpreter.start()
                assert [p.role for p in joined.peers] == ["counter"]
                counter_peer = joined.peers[0].peer_id
                await interpreter.wait_connected(counter_peer, timeout=15)
                await interpreter.wait_frames(counter_peer, audio=5, video=5, timeout=15)
                assert joined.peer_id in counter.pcs
                await counter.wait_frames(joined.peer_id, audio=5, video=5, timeout=15)
                seat = a.hub._rooms["call-x"].seats[joined.peer_id]
                assert seat.conn_id == REMOTE, "A sees the interpreter's seat as held elsewhere"
        finally:
            async with asyncio.timeout(15):
                await counter.close()
                await interpreter.close()


async def test_room_closed_on_one_instance_closes_everywhere(redis_server: RedisServer) -> None:
    """Ending the call on B tells the counter on A that the room closed."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        b.open_room("call-y")
        await b.hub.flush()
        client = await Client.open(a, user=1)
        joined = await client.join("call-y", b.token("call-y", "counter", 1))
        assert joined["type"] == "joined"
        await b.hub.close_room("call-y", "ended")
        closed = await client.expect("room-closed")
        assert closed["reason"] == "ended"
        await _until(lambda: "call-y" not in a.hub.room_ids())
        await client.close()


async def test_rejoin_on_other_instance_after_socket_drop(redis_server: RedisServer) -> None:
    """A counter whose socket on A dropped rejoins its seat on B and the interpreter hears it."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        a.open_room("call-z")
        await a.hub.flush()
        token = a.token("call-z", "counter", 1)
        counter = await Client.open(a, user=1)
        first = await counter.join("call-z", token)
        interpreter = await Client.open(b, user=2)
        assert (await interpreter.join("call-z", b.token("call-z", "interpreter", 2)))["type"] == "joined"
        await counter.close()
        left = await interpreter.expect("peer-left")
        assert left["reason"] == "dropped"
        again = await Client.open(b, user=1)
        rejoined = await again.join("call-z", token)
        assert rejoined["type"] == "joined" and rejoined["rejoined"] and rejoined["peer_id"] == first["peer_id"]
        back = await interpreter.expect("peer-joined")
        assert back["rejoined"] is True
        await again.close()
        await interpreter.close()


async def test_redis_restart_reconnects_and_relays_again(redis_server: RedisServer) -> None:
    """After Redis restarts (state lost), both instances reconnect, re-publish rooms and relay again."""
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        a.open_room("call-r")
        await a.hub.flush()
        counter = await Client.open(a, user=1)
        await counter.join("call-r", a.token("call-r", "counter", 1))
        interpreter = await Client.open(b, user=2)
        joined = await interpreter.join("call-r", b.token("call-r", "interpreter", 2))
        counter_peer = joined["peers"][0]["peer_id"]
        await counter.expect("peer-joined")

        redis_server.stop()
        await asyncio.sleep(0.5)  # the behaviour under test: Redis stays away for a moment
        redis_server.start()
        await _until(lambda: a.hub.cluster.connected.is_set() and b.hub.cluster.connected.is_set(), timeout=10)
        room_key = a.hub.cluster.key("room", "call-r")
        for peer in (counter_peer, joined["peer_id"]):  # both instances re-published their seats
            await eventually(lambda peer=peer: a.hub.cluster.redis.hexists(room_key, f"seat:{peer}"))

        await interpreter.send({"type": "offer", "to": counter_peer, "sdp": "v=0 after restart"})
        got = await counter.expect("offer", skip=("peer-left", "peer-joined"))
        assert got["sdp"] == "v=0 after restart"
        await b.hub.notify(1, {"type": "status", "n": 1})
        assert (await _next_event(counter))["event"] == {"type": "status", "n": 1}
        await counter.close()
        await interpreter.close()


# --- presence across instances: listeners fire once, on a survivor, for a dead instance's users ---

Calls = list[tuple[str, int, bool, float]]


def _record(calls: Calls, name: str) -> Callable[[int, bool], Awaitable[None]]:
    async def listener(user_id: int, online: bool) -> None:
        calls.append((name, user_id, online, time.monotonic()))

    return listener


def _offline(calls: Calls, user_id: int) -> list[tuple[str, int, bool, float]]:
    return [c for c in calls if c[1] == user_id and not c[2]]


async def serve_forever(redis_url: str) -> None:
    """The child of `_spawn_instance`: one cluster hub that prints its port, then runs until killed."""
    async with cluster_server(redis_url) as srv:
        print("PORT", srv.port, flush=True)
        await asyncio.Future()


@contextmanager
def _spawn_instance(redis_url: str) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """A cluster hub in a child process (so it can be SIGKILLed); yields it and a `Client.open` target."""
    code = ("import asyncio, sys\nfrom tests.cluster.test_redis_backplane import serve_forever\n"
            "asyncio.run(serve_forever(sys.argv[1]))")
    proc = subprocess.Popen([sys.executable, "-c", code, redis_url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert line and line[0] == "PORT", f"child did not start: {line}"
        yield proc, SimpleNamespace(ws_url=f"ws://127.0.0.1:{line[1]}/ws")
    finally:
        proc.kill()
        proc.wait(10)


async def test_users_of_a_killed_instance_go_offline_once_after_grace(redis_server: RedisServer) -> None:
    """After SIGKILL of an instance, exactly one survivor reports each of its users offline, one grace later."""
    calls: Calls = []
    grace = 1.0
    async with cluster_server(redis_server.url, presence_grace_seconds=grace) as b, \
            cluster_server(redis_server.url, presence_grace_seconds=grace) as c:
        b.hub.add_presence_listener(_record(calls, "b"))
        c.hub.add_presence_listener(_record(calls, "c"))
        with _spawn_instance(redis_server.url) as (proc, a):
            clients = [await Client.open(a, user=u) for u in (31, 32)]
            await _until(lambda: all(s.hub.is_online(u) for s in (b, c) for u in (31, 32)))
            proc.kill()
            proc.wait(10)
            killed = time.monotonic()
            await _until(lambda: _offline(calls, 31) and _offline(calls, 32), timeout=grace + 5)
            await asyncio.sleep(grace)  # room for a second (wrong) report
        for user in (31, 32):
            reports = _offline(calls, user)
            assert len(reports) == 1, reports
            assert reports[0][3] - killed >= grace * 0.9, "offline only after the grace period"
            assert not b.hub.is_online(user) and not c.hub.is_online(user)
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()


async def test_user_who_reconnects_to_a_survivor_within_grace_is_never_offline(redis_server: RedisServer) -> None:
    """A user whose instance was killed and who reconnects to a survivor within grace stays online everywhere."""
    calls: Calls = []
    grace = 1.5
    async with cluster_server(redis_server.url, presence_grace_seconds=grace) as b, \
            cluster_server(redis_server.url, presence_grace_seconds=grace) as c:
        b.hub.add_presence_listener(_record(calls, "b"))
        c.hub.add_presence_listener(_record(calls, "c"))
        with _spawn_instance(redis_server.url) as (proc, a):
            await Client.open(a, user=33)
            await _until(lambda: b.hub.is_online(33) and c.hub.is_online(33))
            proc.kill()
            proc.wait(10)
            await asyncio.sleep(0.3)  # the behaviour under test: the user comes back a moment later
            again = await Client.open(b, user=33)
            await asyncio.sleep(2 * grace + 1)  # the behaviour under test: past every grace, no offline
        assert _offline(calls, 33) == []
        assert b.hub.is_online(33) and c.hub.is_online(33)
        await again.close()


async def test_disconnect_on_one_instance_is_not_offline_while_online_on_another(redis_server: RedisServer) -> None:
    """A user's socket closing on A reports nothing while they are online on B; closing on B reports once."""
    calls: Calls = []
    async with cluster_server(redis_server.url) as a, cluster_server(redis_server.url) as b:
        a.hub.add_presence_listener(_record(calls, "a"))
        b.hub.add_presence_listener(_record(calls, "b"))
        on_a, on_b = await Client.open(a, user=34), await Client.open(b, user=34)
        await _until(lambda: a.hub.presences.remote_instances(34) and b.hub.presences.remote_instances(34))
        await on_a.close()
        grace = a.hub.presence.grace
        await asyncio.sleep(grace + 0.8)  # the behaviour under test: a's grace passes, b still holds the user
        assert _offline(calls, 34) == [] and a.hub.is_online(34)
        await on_b.close()
        await _until(lambda: not a.hub.is_online(34) and not b.hub.is_online(34), timeout=grace + 3)
        await _until(lambda: _offline(calls, 34))
        await asyncio.sleep(0.5)  # the behaviour under test: room for a second (wrong) report
        assert [c[0] for c in _offline(calls, 34)] == ["b"]


async def test_every_pooled_redis_connection_survives_a_redis_restart(redis_server: RedisServer) -> None:
    """After Redis restarts, the first commands on connections pooled before it succeed (they reconnect)
    instead of failing with "Connection closed by server": the room directory writes through them."""
    async with cluster_server(redis_server.url) as a:
        redis = a.hub.cluster.redis
        await asyncio.gather(*(redis.hset("probe", f"f{n}", n) for n in range(8)))  # several pooled connections
        redis_server.stop()
        redis_server.start()
        assert await asyncio.gather(*(redis.hexists("probe", f"f{n}") for n in range(8))) == [False] * 8
