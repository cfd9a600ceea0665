"""Cluster figures: failover, cross-instance relay latency, scheduler takeover.

Everything on loopback with child processes this script starts and stops itself:
- redis-server on a free port;
- for failover and relay, two signalling instances (`bench/cluster.py --serve`: the real
  signalling router and ClusterHub over Redis, a test sign-in by `?user=`), so a killed
  instance costs no database set-up per run;
- for the scheduler, two real `videodolmetschen serve` processes on a fresh PostgreSQL
  database (VD_TEST_DATABASE_URL_PG; skipped without it).

failover_reconnect_ms  SIGKILL of the counter's instance → media flowing again on the other (p50 of 10)
cross_instance_relay_p99_ms  relay A → Redis → B at 1,000 messages/s for 5 s
scheduler_takeover_s   SIGKILL of the lease holder → the other instance holds the lease (median of 3)
`--faults [N]` instead: reconnect_storm_s (N sockets, default 3,000, reconnecting at once to one
instance until the last `welcome`), the grace a survivor gives that crowd, and the takeover.
The last line is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-cluster-secret-0123456789abcdefghijkl"
RUNS = 10
RELAY_RATE, RELAY_SECONDS, RELAY_ROOMS = 1000, 5, 25


def serve(port: int, redis_url: str) -> None:
    """Child mode: one signalling instance with a ClusterHub over Redis."""
    import uvicorn
    from fastapi import FastAPI

    from broker.rtc.views import get_hub, router
    from signaling.cluster import ClusterHub
    from signaling.redis_backplane import RedisBackplane
    from tests.signaling.conftest import authenticate, make_settings

    settings = make_settings(secret_key=SECRET, rejoin_grace_seconds=60.0)
    hub = ClusterHub(settings=settings, backplane=RedisBackplane(redis_url), authenticate=authenticate)
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_hub] = lambda: hub

    @app.post("/open/{room_id}")
    async def open_room(room_id: str) -> dict[str, str]:
        hub.open_room(room_id, expires_at=datetime.now(UTC) + timedelta(minutes=30))
        await hub.flush()
        return {"room": room_id}

    @app.on_event("startup")
    async def start() -> None:
        await hub.start()

    @app.on_event("shutdown")
    async def stop() -> None:
        await hub.stop()

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False)


class Child:
    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_http(url: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url, timeout=1)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def start_instance(port: int, redis_url: str) -> Child:
    return Child([sys.executable, __file__, "--serve", str(port), redis_url])


def token(room: str, role: str, user: int) -> str:
    from signaling.tokens import issue_join_token

    return issue_join_token(SECRET, room_id=room, user_id=user, role=role, expires_at=time.time() + 1800)


async def failover_once(run: int, redis_url: str, b_port: int) -> float:
    import httpx

    from signaling.client.peer import Participant
    from tests.conftest import free_port

    a_port = free_port()
    a = start_instance(a_port, redis_url)
    try:
        await wait_http(f"http://127.0.0.1:{a_port}/docs")
        room = f"bench-{run}"
        async with httpx.AsyncClient() as http:
            await http.post(f"http://127.0.0.1:{b_port}/open/{room}")
        counter_token = token(room, "counter", 1)
        counter = Participant(f"ws://127.0.0.1:{a_port}/ws?user=1", room=room, token=counter_token, ice_servers=[])
        interpreter = Participant(f"ws://127.0.0.1:{b_port}/ws?user=2", room=room,
                                  token=token(room, "interpreter", 2), ice_servers=[])
        again = Participant(f"ws://127.0.0.1:{b_port}/ws?user=1", room=room, token=counter_token, ice_servers=[])
        try:
            await counter.start()
            joined = await interpreter.start()
            counter_peer = joined.peers[0].peer_id
            await interpreter.wait_frames(counter_peer, audio=3, video=3, timeout=20)
            killed = time.perf_counter()
            a.kill()
            async with asyncio.timeout(10):
                while counter.ws is not None and counter.ws.state.name == "OPEN":
                    await asyncio.sleep(0.005)
            await counter.drop()
            await again.start()
            await again.wait_frames(joined.peer_id, audio=1, video=1, timeout=20)
            await interpreter.wait_frames(counter_peer, audio=1, video=1, timeout=20)
            return (time.perf_counter() - killed) * 1000
        finally:
            for participant in (counter, interpreter, again):
                try:
                    await asyncio.wait_for(participant.close(), 10)
                except Exception:  # noqa: BLE001 - teardown of a killed call
                    pass
    finally:
        a.stop()


async def relay_latency(redis_url: str, b_port: int) -> dict[str, float]:
    import httpx
    from websockets.asyncio.client import connect

    from tests.conftest import free_port

    a_port = free_port()
    a = start_instance(a_port, redis_url)
    try:
        await wait_http(f"http://127.0.0.1:{a_port}/docs")
        # The hub limits each socket to 50 messages/s, so 25 rooms carry 40 messages/s each.
        pairs = []
        async with httpx.AsyncClient() as http:
            for n in range(RELAY_ROOMS):
                room = f"bench-relay-{n}"
                await http.post(f"http://127.0.0.1:{b_port}/open/{room}")
                sender = await connect(f"ws://127.0.0.1:{a_port}/ws?user={1000 + n}", compression=None)
                receiver = await connect(f"ws://127.0.0.1:{b_port}/ws?user={2000 + n}", compression=None)
                for ws, role, user in ((sender, "counter", 1000 + n), (receiver, "interpreter", 2000 + n)):
                    await ws.send(json.dumps({"type": "hello", "version": 1}))
                    await ws.recv()
                    await ws.send(json.dumps({"type": "join", "room": room, "token": token(room, role, user)}))
                    while (joined := json.loads(await ws.recv()))["type"] != "joined":
                        pass
                pairs.append((sender, receiver, joined["peer_id"]))
        total = RELAY_RATE * RELAY_SECONDS
        latencies: list[float] = []

        async def receive(receiver: Any) -> None:
            while len(latencies) < total:
                msg = json.loads(await receiver.recv())
                if msg.get("type") == "candidate":
                    latencies.append((time.perf_counter() - float(msg["candidate"]["candidate"][2:])) * 1000)

        readers = [asyncio.create_task(receive(r)) for _, r, _ in pairs]
        start = time.perf_counter()
        for i in range(total):
            due = start + i / RELAY_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sender, _, target = pairs[i % len(pairs)]
            line = f"x:{time.perf_counter():.6f}"
            await sender.send(json.dumps({"type": "candidate", "to": target,
                                          "candidate": {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}}))
        deadline = time.perf_counter() + 15
        while len(latencies) < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        for reader in readers:
            reader.cancel()
        sent_for = time.perf_counter() - start
        for sender, receiver, _ in pairs:
            await sender.close()
            await receiver.close()
        latencies.sort()
        return {
            "cross_instance_relay_msgs_per_s": round(len(latencies) / sent_for, 1),
            "cross_instance_relay_p50_ms": round(latencies[len(latencies) // 2], 2),
            "cross_instance_relay_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
            "cross_instance_relay_lost": total - len(latencies),
        }
    finally:
        a.stop()


async def scheduler_takeover(redis_url: str) -> float | None:
    """Median of 3 takeovers with two real `videodolmetschen serve` processes on PostgreSQL."""
    pg = os.environ.get("VD_TEST_DATABASE_URL_PG", "")
    if not pg:
        print("scheduler_takeover_s: skipped (no VD_TEST_DATABASE_URL_PG)", flush=True)
        return None
    from broker.config import Settings
    from broker.database import make_engine, make_sessionmaker
    from tests.cluster import conftest as cluster
    from tests.cluster.test_instances import _holder

    db_url = await asyncio.to_thread(cluster.create_database, pg)
    engine = make_engine(Settings(_env_file=None, database_url=db_url))
    times: list[float] = []
    log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        async with make_sessionmaker(engine)() as db:
            for run in range(3):
                env = cluster.instance_env(database_url=db_url, redis_url=redis_url)
                pair = [cluster.Instance(f"bench-{run}-{n}", env, log_dir).start() for n in "ab"]
                try:
                    for inst in pair:
                        await asyncio.to_thread(inst.wait_healthy)
                    async with asyncio.timeout(20):
                        while (holder := await _holder(db)) is None:
                            await asyncio.sleep(0.05)
                    leader = next(i for i in pair if i.proc and i.proc.pid == int(holder.split(":")[1]))
                    other = next(i for i in pair if i is not leader)
                    killed = time.perf_counter()
                    leader.kill()
                    async with asyncio.timeout(20):
                        while (h := await _holder(db)) is None or int(h.split(":")[1]) != other.proc.pid:  # type: ignore[union-attr]
                            await asyncio.sleep(0.02)
                    times.append(time.perf_counter() - killed)
                    print(f"scheduler takeover run {run + 1}: {times[-1]:.2f} s", flush=True)
                finally:
                    for inst in pair:
                        inst.stop()
    finally:
        await engine.dispose()
        await asyncio.to_thread(cluster.drop_database, db_url)
    return round(statistics.median(times), 2)


async def reconnect_storm(b_port: int, sockets: int, concurrency: int = 200) -> dict[str, float]:
    """`sockets` users reconnect at once to one instance (as after a failover): seconds until the
    last one has its `welcome`, and the presence grace the survivor gives them (signaling/presence.py)."""
    import json as _json

    from websockets.asyncio.client import connect

    from broker.config import Settings
    from signaling.online import storm_grace

    gate = asyncio.Semaphore(concurrency)  # a crowd of browsers, not one client with 3,000 handshakes in flight
    opened: list[Any] = []

    async def one(user: int) -> None:
        async with gate:
            ws = await connect(f"ws://127.0.0.1:{b_port}/ws?user={user}", compression=None, open_timeout=60)
            await ws.send(_json.dumps({"type": "hello", "version": 1}))
            while _json.loads(await ws.recv())["type"] != "welcome":
                pass
            opened.append(ws)

    started = time.perf_counter()
    async with asyncio.timeout(300):
        await asyncio.gather(*(one(10_000 + i) for i in range(sockets)))
    seconds = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    defaults = Settings(_env_file=None)
    grace = storm_grace(defaults.presence_grace_seconds, sockets, defaults.reconnect_rate_per_second)
    print(f"reconnect storm: {sockets} sockets in {seconds:.1f} s; survivor's grace for them {grace:.0f} s", flush=True)
    return {"reconnect_storm_sockets": sockets, "reconnect_storm_s": round(seconds, 1),
            "reconnect_storm_grace_s": round(grace, 1)}


async def faults(sockets: int) -> None:
    """`--faults [N]`: only the figures issue 11 names: lease takeover and a reconnect storm."""
    from tests.cluster.conftest import RedisServer
    from tests.conftest import free_port

    redis = RedisServer(free_port())
    redis.start()
    b_port = free_port()
    b = start_instance(b_port, redis.url)
    figures: dict[str, Any] = {}
    try:
        await wait_http(f"http://127.0.0.1:{b_port}/docs")
        figures.update(await reconnect_storm(b_port, sockets))
        figures["scheduler_takeover_s"] = await scheduler_takeover(redis.url)
        figures["scheduler_lease_s"] = 3.0
    finally:
        b.stop()
        redis.stop()
    print(json.dumps(figures))


async def main() -> None:
    from tests.cluster.conftest import RedisServer
    from tests.conftest import free_port

    redis = RedisServer(free_port())
    redis.start()
    b_port = free_port()
    b = start_instance(b_port, redis.url)
    figures: dict[str, Any] = {}
    try:
        await wait_http(f"http://127.0.0.1:{b_port}/docs")
        failovers = []
        for run in range(RUNS):
            ms = await failover_once(run, redis.url, b_port)
            failovers.append(ms)
            print(f"failover run {run + 1}: {ms:.0f} ms", flush=True)
        figures["failover_reconnect_ms"] = round(statistics.median(failovers), 1)
        figures["failover_reconnect_max_ms"] = round(max(failovers), 1)
        figures.update(await relay_latency(redis.url, b_port))
        figures["scheduler_takeover_s"] = await scheduler_takeover(redis.url)
        figures["scheduler_lease_s"] = 3.0
    finally:
        b.stop()
        redis.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) >= 2 and sys.argv[1] == "--faults":
        asyncio.run(faults(int(sys.argv[2]) if len(sys.argv) > 2 else 3000))
    else:
        asyncio.run(main())
