"""Signalling figures: memory per connection, relay throughput and latency against a bare
`websockets` echo server, and aiortc call set-up time. Loopback only, bounded in count and
time (about a minute). The last output line is one JSON object with the issue's keys.

    .venv/bin/python bench/signaling.py [--connections 2000] [--calls 50]

The servers run in child processes so their memory is measured alone. The bench server
raises the per-connection rate limit and the silence timeout (documented in the output):
the figures are about the relay path, not about the limiter, and idle benchmark sockets do
not answer application pings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is called signaling.py: keep its folder off the path so `import signaling` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuv"
KEYS = ("connections", "rss_kib_per_connection", "relay_msgs_per_s", "relay_p50_ms", "relay_p99_ms",
        "bare_echo_msgs_per_s", "relay_vs_bare", "call_setup_p50_ms", "call_setup_p99_ms")
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.2 52345 typ srflx raddr 10.0.0.5 rport 52345 " \
            "generation 0 ufrag 4ZcD network-cost 999"


# --- child processes --------------------------------------------------------------------

def serve_signaling(rooms: int, call_rooms: int, ws_impl: str) -> None:
    import uvicorn
    from fastapi import FastAPI
    from starlette.websockets import WebSocket

    from broker.config import Settings
    from broker.rtc.views import get_hub, router
    from signaling.backplane import InMemoryBackplane
    from signaling.hub import Hub
    from signaling.principal import Principal
    from signaling.tuning import tune_gc

    async def authenticate(ws: WebSocket) -> Principal | None:
        user = ws.query_params.get("user")
        return Principal(int(user), "caseworker", f"u{user}") if user else None

    settings = Settings(_env_file=None, environment="test", secret_key=SECRET, allowed_origins=[])
    hub = Hub(settings=settings, backplane=InMemoryBackplane(), authenticate=authenticate,
              rate_per_second=100_000, rate_burst=100_000, heartbeat_seconds=300, silence_timeout_seconds=600)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        app.dependency_overrides[get_hub] = lambda: hub
        await hub.start()
        for i in range(rooms):
            hub.open_room(f"room-{i}", expires_at=datetime.now(UTC) + timedelta(hours=1))
        for i in range(call_rooms):
            hub.open_room(f"room-call-{i}", expires_at=datetime.now(UTC) + timedelta(hours=1))
        tune_gc()  # what start_hub does in the app
        yield
        await hub.stop()

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    _run_uvicorn(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws=ws_impl,
                                ws_per_message_deflate=False, ws_max_size=65536, backlog=4096))


def serve_echo() -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the load generator closes abruptly
            async for message in ws:
                await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None, max_size=65536) as server:
            print("PORT", next(iter(server.sockets)).getsockname()[1], flush=True)
            await asyncio.Future()

    asyncio.run(main())


def _run_uvicorn(config: object) -> None:
    import uvicorn

    server = uvicorn.Server(config)  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        print("PORT", server.servers[0].sockets[0].getsockname()[1], flush=True)
        await task

    asyncio.run(main())


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "PORT":
            raise RuntimeError(f"child did not start: {line}")
        self.port = int(line[1])

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- load generator -----------------------------------------------------------------------

class RawPeer(asyncio.Protocol):
    """A connected WebSocket taken over from `websockets` after its handshake.

    The load generator must cost far less per message than the server it measures, or the
    figures measure the generator (it pegged one core with the `websockets` client against the
    bare echo server). So a channel writes one pre-masked frame, built once, and counts whole
    frames as they arrive in `data_received`, no task or future per message.
    """

    def __init__(self, ws: object) -> None:
        self.transport: asyncio.Transport = ws.transport  # type: ignore[attr-defined]
        self.transport.set_protocol(self)
        self.buf = bytearray()
        self.on_frames: object = None  # callable(count) set by the phase running

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        frames, pos = 0, 0
        while len(buf) - pos >= 2:
            size, head = buf[pos + 1] & 0x7F, 2
            if size == 126:
                if len(buf) - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                if len(buf) - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if len(buf) - pos < head + size:
                break
            frames += (buf[pos] & 0x0F) == 1  # text frames only
            pos += head + size
        del buf[:pos]
        if frames and self.on_frames is not None:
            self.on_frames(frames)  # type: ignore[operator]

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002 - asyncio.Protocol signature
        self.on_frames = None


def masked_text_frame(text: str) -> bytes:
    from websockets.frames import Frame, Opcode

    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


class Channel:
    """One direction of traffic: `sender` writes `frame`, `receiver` gets it (the same socket for echo)."""

    def __init__(self, sender: RawPeer, receiver: RawPeer, frame: str) -> None:
        self.sender, self.receiver, self.frame = sender, receiver, masked_text_frame(frame)
        self.sent: deque[float] = deque()


async def closed_loop(channels: list[Channel], seconds: float, window: int) -> float:
    """Saturation: each channel keeps `window` messages in flight; returns delivered messages/s."""
    delivered = 0
    stop = time.monotonic() + seconds

    def refill(ch: Channel) -> object:
        def on_frames(count: int) -> None:
            nonlocal delivered
            delivered += count
            if time.monotonic() < stop:
                ch.sender.transport.write(ch.frame * count)

        return on_frames

    start = time.monotonic()
    for ch in channels:
        ch.receiver.on_frames = refill(ch)
        ch.sender.transport.write(ch.frame * window)
    await asyncio.sleep(seconds)
    rate = delivered / (time.monotonic() - start)
    await asyncio.sleep(0.3)  # let the last ones land
    for ch in channels:
        ch.receiver.on_frames = None
    return rate


async def open_loop(channels: list[Channel], rate: float, seconds: float) -> list[float]:
    """A fixed offered load, one message every 1/rate s (1 ms batches) spread over the channels;
    returns one latency (ms) per message."""
    latencies: list[float] = []

    def arrived(ch: Channel) -> object:
        def on_frames(count: int) -> None:
            now = time.perf_counter()
            for _ in range(count):
                latencies.append((now - ch.sent.popleft()) * 1000)

        return on_frames

    for ch in channels:
        ch.sent.clear()
        ch.receiver.on_frames = arrived(ch)
    sent_total, start = 0, time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        while sent_total < int((now - start) * rate):
            ch = channels[sent_total % len(channels)]
            ch.sent.append(time.perf_counter())
            ch.sender.transport.write(ch.frame)
            sent_total += 1
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.5)
    for ch in channels:
        ch.receiver.on_frames = None
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- phases --------------------------------------------------------------------------------

async def connect_pairs(port: int, first: int, rooms: int) -> list[tuple[object, object, str, str]]:
    from websockets.asyncio.client import connect

    from signaling.tokens import issue_join_token

    expiry = time.time() + 3600

    async def member(room: int, role: str, user: int) -> tuple[object, str]:
        ws = await connect(f"ws://127.0.0.1:{port}/ws?user={user}", compression=None, max_size=65536,
                           ping_interval=None, open_timeout=60)
        await ws.send(json.dumps({"type": "hello", "version": 1}))
        await ws.recv()
        token = issue_join_token(SECRET, room_id=f"room-{room}", user_id=user, role=role, expires_at=expiry)
        await ws.send(json.dumps({"type": "join", "room": f"room-{room}", "token": token}))
        joined = json.loads(await ws.recv())
        assert joined["type"] == "joined", joined
        return ws, joined["peer_id"]

    pairs = []
    for batch in range(first, rooms, 100):
        async def pair(i: int) -> tuple[object, object, str, str]:
            a, a_id = await member(i, "counter", 2 * i + 1)
            b, b_id = await member(i, "interpreter", 2 * i + 2)
            await a.recv()  # type: ignore[attr-defined]  # peer-joined
            return a, b, a_id, b_id

        pairs += await asyncio.gather(*(pair(i) for i in range(batch, min(rooms, batch + 100))))
    return pairs


def relay_frame(to: str) -> str:
    return json.dumps({"type": "candidate", "to": to,
                       "candidate": {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0}})


async def call_setup_pairs(port: int, calls: int) -> list[float]:
    """Join to ICE connected for `calls` fresh two-party aiortc calls through the server."""
    from signaling.client.peer import Participant
    from signaling.tokens import issue_join_token

    url = f"ws://127.0.0.1:{port}/ws"
    times = []
    for i in range(calls):
        room, expiry = f"room-call-{i}", time.time() + 600
        counter = Participant(url + f"?user={100_000 + 2 * i}", room=room, token=issue_join_token(
            SECRET, room_id=room, user_id=100_000 + 2 * i, role="counter", expires_at=expiry))
        interpreter = Participant(url + f"?user={100_001 + 2 * i}", room=room, token=issue_join_token(
            SECRET, room_id=room, user_id=100_001 + 2 * i, role="interpreter", expires_at=expiry))
        start = time.perf_counter()
        try:
            await counter.start()
            joined = await interpreter.start()
            await interpreter.wait_connected(joined.peers[0].peer_id, timeout=10)
            await counter.wait_connected(joined.peer_id, timeout=10)
            times.append((time.perf_counter() - start) * 1000)
            # Let DTLS finish before hanging up, so teardown does not race aiortc's connect task.
            pcs = [*counter.pcs.values(), *interpreter.pcs.values()]
            for _ in range(100):
                if all(pc.connectionState == "connected" for pc in pcs):
                    break
                await asyncio.sleep(0.02)
        finally:
            await asyncio.gather(counter.close(), interpreter.close())
    return times


async def measure(args: argparse.Namespace) -> dict[str, float]:
    from websockets.asyncio.client import connect

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    rooms = args.connections // 2
    server = Child("--serve-signaling", "--rooms", str(rooms), "--call-rooms", str(args.calls), "--ws", args.ws)
    echo = Child("--serve-echo")
    try:
        warm = await connect_pairs(server.port, 0, 10)  # imports and first allocations out of the baseline
        await asyncio.sleep(0.5)
        base = server.rss_kib()
        t0 = time.monotonic()
        pairs = warm + await connect_pairs(server.port, 10, rooms)
        print(f"connected {2 * len(pairs)} sockets in {time.monotonic() - t0:.1f}s", flush=True)
        await asyncio.sleep(1.0)
        per_conn = (server.rss_kib() - base) / (2 * (len(pairs) - 10))
        print(f"server RSS {server.rss_kib()} KiB; {per_conn:.1f} KiB per connection", flush=True)
        # The load generator's own 2,000 client sockets would make its full GC passes long enough to
        # show up as relay latency; freeze them (this process is the meter, not the product).
        gc.collect()
        gc.freeze()

        active = pairs[: args.channels]
        relay = [Channel(RawPeer(a), RawPeer(b), relay_frame(b_id)) for a, b, _, b_id in active]
        relay_rate = await closed_loop(relay, args.seconds, args.window)
        print(f"relay saturation: {relay_rate:,.0f} msgs/s over {len(relay)} pairs", flush=True)
        echo_socks = [RawPeer(await connect(f"ws://127.0.0.1:{echo.port}", compression=None, ping_interval=None))
                      for _ in range(args.channels)]
        bare = [Channel(ws, ws, relay_frame("x")) for ws in echo_socks]
        bare_rate = await closed_loop(bare, args.seconds, args.window)
        print(f"bare websockets echo: {bare_rate:,.0f} msgs/s over {len(bare)} sockets", flush=True)
        latencies = await open_loop(relay, args.rate, args.seconds)
        print(f"relay at {args.rate}/s: {len(latencies)} delivered, p50 {pct(latencies, .5):.2f} ms, "
              f"p99 {pct(latencies, .99):.2f} ms", flush=True)
        for raw in echo_socks:
            raw.transport.close()
        setups = await call_setup_pairs(server.port, args.calls)
        print(f"{len(setups)} aiortc calls: join to ICE connected p50 {statistics.median(setups):.0f} ms, "
              f"p99 {pct(setups, .99):.0f} ms", flush=True)
        connections = 2 * len(pairs)
        for ch in relay:  # taken over from websockets: close the transports directly
            ch.sender.transport.close()
            ch.receiver.transport.close()
        await asyncio.gather(*(ws.close() for a, b, _, _ in pairs[args.channels:] for ws in (a, b)),  # type: ignore[attr-defined]
                             return_exceptions=True)
    finally:
        server.stop()
        echo.stop()
    return {
        "connections": connections,
        "rss_kib_per_connection": round(per_conn, 1),
        "relay_msgs_per_s": round(relay_rate),
        "relay_p50_ms": round(pct(latencies, 0.5), 2),
        "relay_p99_ms": round(pct(latencies, 0.99), 2),
        "bare_echo_msgs_per_s": round(bare_rate),
        "relay_vs_bare": round(relay_rate / bare_rate, 2),
        "call_setup_p50_ms": round(statistics.median(setups), 1),
        "call_setup_p99_ms": round(pct(setups, 0.99), 1),
    }




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--channels", type=int, default=100, help="pairs carrying relay traffic")
    parser.add_argument("--window", type=int, default=4, help="messages in flight per pair at saturation")
    parser.add_argument("--rate", type=float, default=5000, help="offered load for the latency run")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--ws", default="websockets-sansio", help="uvicorn WebSocket implementation")
    parser.add_argument("--serve-signaling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rooms", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--call-rooms", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_signaling:
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import signal

            prof = cProfile.Profile()
            signal.signal(signal.SIGTERM, lambda *_: (prof.disable(), prof.dump_stats(os.environ["BENCH_PROFILE"]),
                                                      os._exit(0)))
            prof.enable()
        serve_signaling(args.rooms, args.call_rooms, args.ws)
        return
    if args.serve_echo:
        serve_echo()
        return
    print(f"bench: {args.connections} sockets, {args.channels} relay pairs, {args.calls} calls; "
          f"pid {os.getpid()}, {os.cpu_count()} cores; bench server: rate limit and silence timeout raised",
          flush=True)
    figures = asyncio.run(measure(args))
    assert tuple(figures) == KEYS
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
