"""The Redis backplane with two hubs in one process: notify, presence, rooms and calls span instances."""

from __future__ import annotations

import asyncio
import time

import pytest

from signaling.cluster import REMOTE
from signaling.peer import Participant
from tests.cluster.conftest import RedisServer, cluster_server
from tests.signaling.conftest import Client

pytestmark = pytest.mark.slow


async def _until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


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
        await asyncio.sleep(0.5)
        redis_server.start()
        await _until(lambda: a.hub.cluster.connected.is_set() and b.hub.cluster.connected.is_set(), timeout=10)
        await asyncio.sleep(0.3)

        await interpreter.send({"type": "offer", "to": counter_peer, "sdp": "v=0 after restart"})
        got = await counter.expect("offer", skip=("peer-left", "peer-joined"))
        assert got["sdp"] == "v=0 after restart"
        await b.hub.notify(1, {"type": "status", "n": 1})
        assert (await _next_event(counter))["event"] == {"type": "status", "n": 1}
        await counter.close()
        await interpreter.close()
