"""The served app keeps an idle keep-alive connection open longer than the proxy in front does."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from broker.config import Settings
from tests.conftest import free_port, serve_app

UVICORN_DEFAULT_KEEP_ALIVE = 5.0


async def _get_healthz(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    """One GET on an open connection; its status line, or how the server had closed it."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    if reader.at_eof():
        return "closed by the server (EOF)"
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0].decode()


async def test_an_idle_keep_alive_connection_still_answers_after_uvicorns_default_timeout(
    settings: Settings,
) -> None:
    """A proxy (Caddy keeps idle upstream connections 2 minutes) reuses a connection that has been
    idle longer than uvicorn's default 5 s: the request on it is answered, not reset."""
    async with serve_app(settings, free_port()) as server:
        address = urlsplit(server.url)
        assert address.hostname is not None and address.port is not None
        reader, writer = await asyncio.open_connection(address.hostname, address.port)
        try:
            assert (await _get_healthz(reader, writer)).startswith("HTTP/1.1 200")
            await asyncio.sleep(UVICORN_DEFAULT_KEEP_ALIVE + 1.5)  # the behaviour under test: an idle connection
            try:
                second = await _get_healthz(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                second = f"closed by the server ({type(exc).__name__})"
            assert second.startswith("HTTP/1.1 200"), second
        finally:
            writer.close()
