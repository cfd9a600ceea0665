"""Dispatch figures: offer and accept latency with 300 interpreters online as real WebSocket clients.

For each backend (SQLite file, PostgreSQL) and each request rate (20/s, 50/s) a real
`videodolmetschen serve` runs in a child process on a free loopback port. 300 interpreters
and 20 caseworkers sign in over the signalling socket (`/ws` with a ws token); caseworkers
create requests at the given rate through the REST API; every interpreter accepts an offer
the moment it arrives and ends the call a second later (wrap-up 0 s, so they come back).

    .venv/bin/python bench/dispatch.py [--requests 2000] [--rates 20,50] [--backends sqlite,postgresql]

Per run: `offer_p50_ms`/`offer_p99_ms` (POST /api/requests sent → offer event received),
`accept_p99_ms` (POST accept sent → `call-join` received by both interpreter and caseworker),
`requests`, `lost` (created but never accepted, or not ended by the end of the run),
`doubled` (two accepts or two rooms for one request, from the client's view and the DB's).
The last line is one JSON object `{"runs": [...]}`. Loopback only; bounded in count and time.
With `VD_BENCH_PYSPY=<dir>` (py-spy installed in the venv) the server is sampled during the
request phase and the raw stacks land in that directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
INTERPRETERS = 300
CASEWORKERS = 20
HOLD_SECONDS = 1.0
DRAIN_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_url() -> str:
    url = os.environ.get("VD_BENCH_DATABASE_URL_PG")
    if url:
        return url
    out = subprocess.run([str(ROOT / "scripts/ensure-postgres.sh")], check=True, capture_output=True, text=True,
                         env={**os.environ, "VD_PG_DB": "vd_dispatch_bench"})
    return out.stdout.strip().splitlines()[-1]


async def prepare(url: str) -> tuple[list[str], list[str]]:
    """Fresh schema, a small world, 300 interpreters and 20 caseworkers; returns their bearer tokens."""
    from sqlalchemy import text

    import broker.models  # noqa: F401
    from broker.auth import service as auth_service
    from broker.auth.security import hash_password
    from broker.config import Settings
    from broker.database import make_engine, make_sessionmaker
    from broker.enums import OfficeKind, Qualification, Role
    from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
    from broker.language.models import Language, Purpose
    from broker.migrate import upgrade
    from broker.office.models import District, Office
    from broker.user.models import User

    settings = Settings(_env_file=None, database_url=url)
    engine = make_engine(settings)
    if not settings.is_sqlite:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
    await engine.dispose()
    await asyncio.to_thread(upgrade, settings)
    engine = make_engine(settings)
    password = hash_password("bench-password-123")
    async with make_sessionmaker(engine)() as db:
        db.add_all([District(ags="16051", name="Erfurt", kind="kreisfreie Stadt"),
                    Language(code="ar", name_de="Arabisch", name_en="Arabic", name_native="العربية", rtl=True),
                    Purpose(code="residence_permit", name_de="Aufenthaltstitel", name_en="Residence permit")])
        await db.flush()
        office = Office(name="Ausländerbehörde Erfurt", kind=OfficeKind.IMMIGRATION_OFFICE, district_ags="16051")
        db.add(office)
        await db.flush()
        caseworkers = [User(username=f"sb{n}", display_name=f"SB {n}", role=Role.CASEWORKER, office_id=office.id,
                            password_hash=password) for n in range(CASEWORKERS)]
        interpreters = [User(username=f"dol{n}", display_name=f"Dol {n}", role=Role.INTERPRETER,
                             password_hash=password) for n in range(INTERPRETERS)]
        db.add_all(caseworkers + interpreters)
        await db.flush()
        for user in interpreters:
            db.add(InterpreterProfile(user_id=user.id))
        await db.flush()
        for user in interpreters:
            db.add(InterpreterLanguage(interpreter_id=user.id, language_code="ar",
                                       qualification=Qualification.CERTIFIED))
        tokens_c = [await auth_service.start_session(db=db, user=u, kind="bearer", hours=2) for u in caseworkers]
        tokens_i = [await auth_service.start_session(db=db, user=u, kind="bearer", hours=2) for u in interpreters]
        await db.commit()
    await engine.dispose()
    return tokens_c, tokens_i


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VD_DATABASE_URL": url, "VD_SECRET_KEY": SECRET, "VD_ENVIRONMENT": "test",
           "VD_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}", "VD_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "VD_DISPATCH_STRATEGY": "sequential", "VD_WRAP_UP_SECONDS": "0", "VD_SCHEDULER_ENABLED": "true",
           "VD_MAX_WAIT_SECONDS": "120"}
    with log.open("wb") as out:
        return subprocess.Popen([str(ROOT / ".venv/bin/videodolmetschen"), "serve", "--port", str(port),
                                 "--host", "127.0.0.1", "--no-migrate"], env=env, stdout=out, stderr=out,
                                cwd=tempfile.gettempdir(), start_new_session=True)


def profile_server(pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    """With VD_BENCH_PYSPY=<dir>: sample the server with py-spy for the request phase (raw stacks)."""
    target = os.environ.get("VD_BENCH_PYSPY")
    if not target:
        return None
    server = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    out = Path(target) / f"server-{pid}.raw"
    return subprocess.Popen([str(ROOT / ".venv/bin/py-spy"), "record", "-p", (server or [str(pid)])[0], "-d",
                             str(max(1, int(seconds) - 1)), "-r", "250", "-f", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Http:
    """A minimal keep-alive HTTP/1.1 client: the bench must not spend the CPU the server needs.

    (httpx costs about a millisecond of CPU per call; 300 interpreters and 50 requests a second
    on a small machine would then measure the client as much as the server.)
    """

    def __init__(self, port: int, size: int = 64) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.gate = asyncio.Semaphore(size)

    async def call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None
                   ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
        async with self.gate:
            for attempt in range(2):
                pooled = bool(self.idle) and attempt == 0
                reader, writer = self.idle.pop() if pooled else await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(head + data)
                    first = await reader.readline()
                    if not first and pooled:  # the server closed an idle keep-alive connection: retry
                        writer.close()
                        continue
                    status = int(first.split()[1])
                    length = 0
                    while (line := await reader.readline()) not in (b"\r\n", b""):
                        name, _, value = line.partition(b":")
                        if name.lower() == b"content-length":
                            length = int(value)
                    payload = await reader.readexactly(length) if length else b""
                except BaseException:
                    writer.close()
                    raise
                self.idle.append((reader, writer))
                return status, json.loads(payload) if payload else {}
        raise ConnectionError("no answer")

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()


@dataclass
class Run:
    created_at: dict[int, float] = field(default_factory=dict)
    offered_at: dict[int, float] = field(default_factory=dict)
    accept_sent: dict[int, float] = field(default_factory=dict)
    joined: dict[int, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    accepts_ok: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    ended: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    calls: set[asyncio.Task[None]] = field(default_factory=set)


async def socket_for(http: Http, base_ws: str, token: str) -> ClientConnection:
    ws_token = (await http.call("POST", "/api/rtc/ws-token", token))[1]["token"]
    ws = await connect(f"{base_ws}/ws?token={ws_token}", compression=None, max_size=None)
    await ws.send(json.dumps({"type": "hello", "version": 1}))
    return ws


async def interpreter(http: Http, ws: ClientConnection, token: str, run: Run) -> None:
    async def take(offer: dict[str, Any]) -> None:
        rid = offer["request_id"]
        try:
            run.accept_sent[rid] = time.perf_counter()
            status, body = await http.call("POST", f"/api/offers/{offer['offer_id']}/accept", token)
            if status != 200:
                run.errors.append(f"accept {status}: {body.get('code')}")
                return
            run.accepts_ok[rid] += 1
            await asyncio.sleep(HOLD_SECONDS)
            status, _body = await http.call("POST", f"/api/requests/{rid}/end", token)
            if status == 200:
                run.ended.add(rid)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            run.errors.append(f"{type(exc).__name__} for request {rid}")

    async for raw in ws:
        now = time.perf_counter()
        msg = json.loads(raw)
        if msg["type"] == "ping":
            await ws.send('{"type":"pong"}')
        elif msg["type"] == "event" and not msg.get("replay"):
            event = msg["event"]
            if event["type"] == "offer":
                run.offered_at.setdefault(event["request_id"], now)
                task = asyncio.create_task(take(event))
                run.calls.add(task)
                task.add_done_callback(run.calls.discard)
            elif event["type"] == "call-join":
                run.joined[event["request_id"]]["interpreter"] = now


async def caseworker(ws: ClientConnection, run: Run) -> None:
    async for raw in ws:
        now = time.perf_counter()
        msg = json.loads(raw)
        if msg["type"] == "ping":
            await ws.send('{"type":"pong"}')
        elif msg["type"] == "event" and msg["event"]["type"] == "call-join":
            run.joined[msg["event"]["request_id"]]["counter"] = now


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def db_doubles(url: str) -> tuple[int, dict[str, int]]:
    from sqlalchemy import func, select, text

    from broker.config import Settings
    from broker.database import make_engine
    from broker.request.models import InterpretingRequest

    engine = make_engine(Settings(_env_file=None, database_url=url))
    async with engine.connect() as conn:
        doubled = (await conn.execute(text(
            "SELECT count(*) FROM (SELECT request_id FROM offers WHERE status = 'accepted' "
            "GROUP BY request_id HAVING count(*) > 1) d"))).scalar_one()
        rooms = (await conn.execute(text(
            "SELECT count(*) FROM (SELECT request_id FROM calls GROUP BY request_id HAVING count(*) > 1) r"
        ))).scalar_one()
        statuses = dict((await conn.execute(select(InterpretingRequest.status, func.count())
                                             .group_by(InterpretingRequest.status))).all())
    await engine.dispose()
    return int(doubled) + int(rooms), {str(k): int(v) for k, v in statuses.items()}


async def one_run(backend: str, url: str, rate: float, requests: int, workdir: Path) -> dict[str, Any]:
    tokens_c, tokens_i = await prepare(url)
    port = free_port()
    server = start_server(url, port, workdir / f"server-{backend}-{int(rate)}.log")
    base, base_ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    run = Run()
    tasks: list[asyncio.Task[None]] = []
    http = Http(port)
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                async with httpx.AsyncClient(base_url=base) as probe:
                    if (await probe.get("/healthz")).status_code == 200:
                        break
            await asyncio.sleep(0.1)
        sockets_i = await asyncio.gather(*(socket_for(http, base_ws, t) for t in tokens_i))
        sockets_c = await asyncio.gather(*(socket_for(http, base_ws, t) for t in tokens_c))
        tasks += [asyncio.create_task(interpreter(http, ws, t, run))
                  for ws, t in zip(sockets_i, tokens_i, strict=True)]
        tasks += [asyncio.create_task(caseworker(ws, run)) for ws in sockets_c]
        for _ in range(100):  # presence reaches the database through the hub's listener
            tiers = (await http.call("GET", "/api/languages/tiers", tokens_c[0]))[1]
            if tiers and tiers[0]["interpreters_available"] >= INTERPRETERS:
                break
            await asyncio.sleep(0.1)

        async def create(n: int) -> None:
            sent = time.perf_counter()
            status, body = await http.call("POST", "/api/requests", tokens_c[n % CASEWORKERS],
                                           {"language_code": "ar", "purpose": "residence_permit"})
            if status != 201:
                run.errors.append(f"create {status}: {body.get('code')}")
                return
            run.created_at[body["id"]] = sent

        profiler = profile_server(server.pid, requests / rate)
        start = time.perf_counter()
        creators = []
        for n in range(requests):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            creators.append(asyncio.create_task(create(n)))
        await asyncio.gather(*creators)
        if profiler is not None:
            await asyncio.to_thread(profiler.wait)
        deadline = time.perf_counter() + DRAIN_SECONDS
        while time.perf_counter() < deadline and len(run.ended) < len(run.created_at):
            await asyncio.sleep(0.2)
        for task in [*tasks, *run.calls]:
            task.cancel()
        await asyncio.gather(*tasks, *run.calls, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in [*sockets_i, *sockets_c]), return_exceptions=True)
    finally:
        http.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    offer_ms = [(run.offered_at[r] - t) * 1000 for r, t in run.created_at.items() if r in run.offered_at]
    accept_ms = [(max(j.values()) - run.accept_sent[r]) * 1000 for r, j in run.joined.items()
                 if len(j) == 2 and r in run.accept_sent]
    if os.environ.get("VD_BENCH_DEBUG"):
        order = sorted(run.created_at, key=run.created_at.get)  # type: ignore[arg-type]
        slow = [(i, round((run.offered_at[r] - run.created_at[r]) * 1000)) for i, r in enumerate(order)
                if r in run.offered_at and run.offered_at[r] - run.created_at[r] > 0.1]
        print("slow offers (index, ms):", slow[:40], file=sys.stderr)
    db_doubled, statuses = await db_doubles(url)
    client_doubled = sum(1 for c in run.accepts_ok.values() if c > 1)
    lost = sum(1 for r in run.created_at if run.accepts_ok.get(r) != 1 or r not in run.ended)
    return {"backend": backend, "rate_per_s": rate, "offer_p50_ms": round(pct(offer_ms, 0.5), 2),
            "offer_p99_ms": round(pct(offer_ms, 0.99), 2), "accept_p99_ms": round(pct(accept_ms, 0.99), 2),
            "requests": len(run.created_at), "lost": lost, "doubled": client_doubled + db_doubled,
            "errors": len(run.errors) + (requests - len(run.created_at)), "statuses": statuses,
            "first_errors": sorted(set(run.errors))[:3]}


async def main(args: argparse.Namespace) -> None:
    runs = []
    workdir = Path(tempfile.mkdtemp(prefix="vd-bench-dispatch-"))
    for backend in args.backends.split(","):
        for rate in (float(r) for r in args.rates.split(",")):
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{workdir}/bench-{int(rate)}.db"
            else:
                url = pg_url()
            began = time.perf_counter()
            result = await one_run(backend, url, rate, args.requests, workdir)
            result["seconds"] = round(time.perf_counter() - began, 1)
            print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
            runs.append(result)
    print(f"# server logs in {workdir}", flush=True)
    print(json.dumps({"runs": runs}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rates", default="20,50")
    parser.add_argument("--backends", default="sqlite,postgresql")
    asyncio.run(main(parser.parse_args()))
