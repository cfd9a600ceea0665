"""SIGKILL a real `videodolmetschen serve` while offers are pending; the restarted server finishes the job.

Interpreters are real WebSocket clients. Phase one: requests are offered but nobody answers,
one request is accepted, then the server is killed. Phase two: a new server process starts
on the same database, the interpreters reconnect (their pending offers are replayed) and
accept whatever they are offered. In the end no request is stuck, none is lost, none is
assigned twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.asyncio.client import connect

from broker.config import Settings
from broker.enums import RequestStatus
from broker.request.models import InterpretingRequest
from tests.conftest import LOADED_MACHINE_TIMEOUT, World, free_port
from tests.request.conftest import add_interpreter, check_invariants
from tests.waiting import eventually

pytestmark = pytest.mark.slow
SERVE = str(Path(sys.executable).with_name("videodolmetschen"))
FINAL_OR_SERVED = {RequestStatus.ACCEPTED, RequestStatus.CONNECTED, RequestStatus.COMPLETED,
                   RequestStatus.FAILED, RequestStatus.UNFILLED}


def _http(port: int, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=LOADED_MACHINE_TIMEOUT)


@contextlib.asynccontextmanager
async def serve(settings: Settings, port: int, log: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "VD_DATABASE_URL": settings.database_url, "VD_SECRET_KEY": settings.secret_key,
           "VD_ENVIRONMENT": "test", "VD_SCHEDULER_ENABLED": "true", "VD_DISPATCH_STRATEGY": "ring",
           "VD_RING_SIZE": "2", "VD_OFFER_TIMEOUT_SECONDS": "3", "VD_MAX_WAIT_SECONDS": "60",
           "VD_WRAP_UP_SECONDS": "0", "VD_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}"}
    with log.open("ab") as out:
        process = subprocess.Popen([SERVE, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        async with _http(port) as http:

            async def healthy() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get("/healthz")).status_code == 200
                return False

            # A loaded machine (two test runs at once) needs half a minute to start a server.
            await eventually(healthy, timeout=120, message=f"server did not start; see {log}")
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)


async def interpreter_socket(port: int, headers: dict[str, str], answer: asyncio.Event, log: list[str]) -> None:
    """A signed-in interpreter: accepts every offer once `answer` is set, ends calls at once."""
    async with _http(port, headers) as http:
        token = (await http.post("/api/rtc/ws-token")).json()["token"]
        async with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            await ws.send(json.dumps({"type": "hello", "version": 1}))
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                if msg["type"] != "event" or msg["event"]["type"] != "offer" or not answer.is_set():
                    continue
                event = msg["event"]
                accepted = await http.post(f"/api/offers/{event['offer_id']}/accept")
                log.append(f"accept {event['offer_id']} -> {accepted.status_code}")
                if accepted.status_code == 200:
                    await http.post(f"/api/requests/{event['request_id']}/end")


async def test_sigkill_with_pending_offers_loses_nothing(settings: Settings, db: AsyncSession, world: World,
                                                         tmp_path: Path) -> None:
    """After a SIGKILL and a restart every request is served or unfilled, none twice, none lost.

    The request accepted before the crash keeps its interpreter; the other four are served
    after the restart (the pending offers replayed on reconnect, or offered again).
    """
    for n in range(4):
        await add_interpreter(db, f"k{n}", world=world, online=False)
    db.expunge_all()
    port = free_port()
    log = tmp_path / "server.log"
    answer = asyncio.Event()
    accepted_log: list[str] = []
    caseworker = world.auth("caseworker_a")
    created: list[int] = []
    async with serve(settings, port, log) as first:
        sockets = [asyncio.create_task(interpreter_socket(port, world.auth(f"k{n}"), answer, accepted_log))
                   for n in range(4)]
        async with _http(port, caseworker) as http:
            async def all_four_online() -> bool:
                tiers = {t["language_code"]: t for t in (await http.get("/api/languages/tiers")).json()}
                return bool(tiers["ar"]["interpreters_available"] == 4)

            await eventually(all_four_online, message="the four interpreters did not come online")
            for _ in range(5):
                response = await http.post("/api/requests", json={"language_code": "ar", "purpose": "other"})
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
            offers = (await http.get("/api/requests", params={"status": "offered"})).json()["total"]
            assert offers == 2  # four interpreters, two offers each: two requests offered, three queued
        served: tuple[int, int] | None = None
        for n in range(4):  # one interpreter accepts before the crash
            async with _http(port, world.auth(f"k{n}")) as mine:
                pending = (await mine.get("/api/offers")).json()
                if pending and served is None:
                    accepted = await mine.post(f"/api/offers/{pending[0]['id']}/accept")
                    assert accepted.status_code == 200
                    served = (pending[0]["request_id"], world.users[f"k{n}"].id)
        assert served is not None
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        for task in sockets:
            task.cancel()
        await asyncio.gather(*sockets, return_exceptions=True)

    answer.set()
    async with serve(settings, port, log):
        sockets = [asyncio.create_task(interpreter_socket(port, world.auth(f"k{n}"), answer, accepted_log))
                   for n in range(4)]
        async with _http(port, caseworker) as http:
            kept = (await http.get(f"/api/requests/{served[0]}")).json()
            assert kept["status"] == "accepted" and kept["interpreter_id"] == served[1]
            assert (await http.post(f"/api/requests/{served[0]}/end")).status_code == 200
        try:
            deadline = asyncio.get_running_loop().time() + 90  # three queued offers on a loaded machine
            while asyncio.get_running_loop().time() < deadline:
                await db.rollback()
                rows = list((await db.execute(select(InterpretingRequest.id, InterpretingRequest.status))).all())
                await db.rollback()
                if rows and all(status in FINAL_OR_SERVED - {RequestStatus.ACCEPTED} for _id, status in rows):
                    break
                await asyncio.sleep(0.1)
        finally:
            for task in sockets:
                task.cancel()
            await asyncio.gather(*sockets, return_exceptions=True)
    assert sorted(i for i, _s in rows) == sorted(created), "a request was lost"
    stuck = [(i, s) for i, s in rows if s not in FINAL_OR_SERVED]
    assert not stuck, f"stuck after restart: {stuck}; log {log}; {accepted_log}"
    assert sum(1 for line in accepted_log if line.endswith("200")) == len(created) - 1
    await check_invariants(db)
