"""A client that reads an export slowly, stalls and hangs up must not wedge the server (real uvicorn).

Before, the ledger CSV streamed from a database cursor inside the request's session: on SQLite
(one pooled connection, taken with BEGIN IMMEDIATE) every later request waited behind the
stalled reader, for good once it vanished mid-stream.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from broker.ledger.models import LedgerEntry
from tests.conftest import LiveServer
from tests.report.conftest import Ledger, ledger_rows

# Enough rows that the CSV (some MiB) cannot sit in the socket buffers of both ends.
COPIES = 12_000
STALL_SECONDS = 3.0


async def _many_ledger_rows(db: AsyncSession, ledger: Ledger) -> None:
    template = ledger_rows(ledger.world)
    rows = []
    for i in range(COPIES):
        row = dict(template[i % len(template)])
        row["requested_at"] += timedelta(minutes=i)
        for key in ("connected_at", "ended_at"):
            if row[key] is not None:
                row[key] += timedelta(minutes=i)
        rows.append(row)
    await db.execute(insert(LedgerEntry), rows)
    await db.commit()


@pytest.mark.parametrize("path", ["/api/reports/ledger/export?format=csv", "/api/reports/ledger/export?format=xlsx"])
async def test_slow_reader_that_stalls_and_hangs_up_does_not_wedge_the_server(
    live_server: LiveServer, ledger: Ledger, db: AsyncSession, path: str
) -> None:
    """A raw-socket client with a tiny receive buffer reads 1 KiB of the ledger export, stalls, then
    closes mid-stream; meanwhile and afterwards other requests that need the database answer at once."""
    await _many_ledger_rows(db, ledger)
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # back-pressure after a few KiB
    sock.connect((host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    token = ledger.world.auth("manager")["Authorization"]
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
    assert head.startswith(b"HTTP/1.1 200"), head
    await reader.read(1024)  # then read nothing more: the server's writes back up

    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        manager = ledger.world.auth("manager")
        loop = asyncio.get_running_loop()
        stall_until = loop.time() + STALL_SECONDS
        while loop.time() < stall_until:  # during the stall
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["database"] == "ok", health.text
            options = await client.get("/api/reports/options", headers=manager)
            assert options.status_code == 200, options.text
            await asyncio.sleep(0.2)
        writer.transport.abort()  # hang up mid-stream (RST), as a crashed client does
        for _ in range(3):  # and after it vanished
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["database"] == "ok", health.text
            usage = await client.get("/api/reports/usage", headers=manager)
            assert usage.status_code == 200, usage.text
