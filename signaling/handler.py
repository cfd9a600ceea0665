"""The WebSocket handler: check origin, authenticate, register, move messages, unregister.

It decides nothing itself: frames are checked (size, binary, rate, schema) and handed to the
hub, whose state machines decide; every refusal becomes an error frame or a close code.
"""

from __future__ import annotations

import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from signaling import protocol as p
from signaling.connection import (
    CLOSE_POLICY,
    CLOSE_PROTOCOL,
    CLOSE_SIGNED_OUT,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED,
    Connection,
)
from signaling.hub import AuthRefused, Hub
from signaling.rooms import RoomError

log = logging.getLogger(__name__)
# A tuple built once: `isinstance(x, A | B | C | D)` would build a union object per message.
_RELAYED = (p.Offer, p.Answer, p.Candidate, p.Bye)


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    # Browsers always send Origin; a missing one is a non-browser client (the probe, curl),
    # which cannot be tricked by a foreign page, and still has to authenticate.
    return origin is None or origin.rstrip("/") in {o.rstrip("/") for o in allowed}


async def serve_socket(hub: Hub, ws: WebSocket) -> None:
    if not origin_allowed(ws.headers.get("origin"), hub.settings.allowed_origins):
        # Accept, then close: a refused handshake reaches the page only as 1006, this says why.
        await ws.accept()
        await ws.close(code=CLOSE_POLICY, reason="origin not allowed")
        return
    try:
        principal = await hub.authenticate(ws)
    except AuthRefused as exc:
        await ws.accept()
        await ws.close(code=CLOSE_SIGNED_OUT, reason=str(exc))
        return
    await ws.accept()
    conn = await hub.register(ws, principal)
    try:
        while not conn.closed:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            now = time.monotonic()
            conn.last_seen = now
            if not conn.bucket.allow(now):
                await conn.close(CLOSE_POLICY, "rate limit exceeded")
                break
            text = message.get("text")
            if text is None:
                await conn.close(CLOSE_UNSUPPORTED, "binary frames are not accepted")
                break
            await _handle(hub, conn, text)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-receive; unregister below
    finally:
        await hub.unregister(conn)


async def _error(conn: Connection, code: str, message: str, ref: str | None = None) -> None:
    await conn.send(p.serialize(p.Error(code=code, message=message, ref=ref)))


async def _handle(hub: Hub, conn: Connection, text: str) -> None:
    try:
        msg = p.parse(text)
    except p.ProtocolError as exc:
        if exc.code == "too-big":
            await conn.close(CLOSE_TOO_BIG, exc.message)
        else:
            await _error(conn, exc.code, exc.message)
        return
    if msg.type not in p.CLIENT_TYPES:
        await _error(conn, "unexpected-type", f"clients may not send {msg.type!r}", msg.type)
        return
    if not conn.hello_done and not isinstance(msg, p.Hello):
        await _error(conn, "hello-required", "the first message must be hello", msg.type)
        await conn.close(CLOSE_PROTOCOL, "hello required")
        return
    try:
        if isinstance(msg, _RELAYED):  # first: the hot path
            await hub.relay(conn, msg)
        elif isinstance(msg, p.Hello):
            await hub.hello(conn, msg)
        elif isinstance(msg, p.Join):
            await hub.join(conn, msg)
        elif isinstance(msg, p.Ping):
            await conn.send(p.serialize(p.Pong()))
        elif isinstance(msg, p.Leave):
            await hub.leave(conn)
        # Pong needs nothing: receiving it already refreshed last_seen.
    except p.ProtocolError as exc:
        await _error(conn, exc.code, exc.message, msg.type)
        await conn.close(CLOSE_PROTOCOL, exc.message)
    except RoomError as exc:
        await _error(conn, exc.code, exc.message, msg.type)
