"""Presence, the events channel and the backplane, through real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.backplane import InMemoryBackplane
from tests.signaling.conftest import Client, run_server
from tests.waiting import eventually


async def test_presence_online_grace_offline_with_listener_calls() -> None:
    """Online on connect, still online during the grace period, offline after; listeners hear both."""
    calls: list[tuple[int, bool]] = []

    async def listener(user_id: int, online: bool) -> None:
        calls.append((user_id, online))

    async with run_server(settings={"presence_grace_seconds": 0.4}, tick_seconds=0.05) as srv:
        srv.hub.add_presence_listener(listener)
        assert not srv.hub.is_online(7)
        client = await Client.open(srv, user=7)
        assert srv.hub.is_online(7)
        await client.close()
        await eventually(lambda: srv.hub.presence.in_grace(7))
        assert srv.hub.is_online(7), "a dropped socket is not offline during the grace period"
        await eventually(lambda: not srv.hub.is_online(7))
        await eventually(lambda: len(calls) >= 2)
        assert calls == [(7, True), (7, False)]


async def test_reconnect_within_grace_does_not_flap() -> None:
    """A reload within the grace period produces no offline/online pair."""
    calls: list[tuple[int, bool]] = []

    async def listener(user_id: int, online: bool) -> None:
        calls.append((user_id, online))

    async with run_server(settings={"presence_grace_seconds": 0.5}, tick_seconds=0.05) as srv:
        srv.hub.add_presence_listener(listener)
        first = await Client.open(srv, user=7)
        await first.close()
        await eventually(lambda: srv.hub.presence.in_grace(7))
        await Client.open(srv, user=7)
        await asyncio.sleep(0.7)  # the behaviour under test: the whole grace passes, and no offline comes
        assert calls == [(7, True)] and srv.hub.is_online(7)


async def test_notify_reaches_every_socket_of_that_user_only(server: Any) -> None:
    """An event for one user reaches both of their sockets and nobody else's."""
    a1, a2 = await Client.open(server, user=1), await Client.open(server, user=1)
    b = await Client.open(server, user=2)
    await server.hub.notify(1, {"type": "offer", "request_id": 9})
    for sock in (a1, a2):
        frame = await sock.recv()
        assert frame == {"type": "event", "event": {"type": "offer", "request_id": 9}, "replay": False}
    await b.send({"type": "ping"})
    assert (await b.recv())["type"] == "pong", "user 2 received nothing before its pong"


async def test_reconnecting_client_receives_its_current_state() -> None:
    """After hello, the broker's current state for the user is replayed as events."""

    async def current_state(user_id: int) -> list[dict[str, Any]]:
        return [{"type": "request-status", "request_id": 3, "status": "queued", "user": user_id}]

    async with run_server(current_state=current_state) as srv:
        client = await Client.open(srv, user=4, hello=False)
        await client.send({"type": "hello", "version": 1})
        assert (await client.recv())["type"] == "welcome"
        replay = await client.recv()
        assert replay["replay"] is True and replay["event"]["user"] == 4


async def test_notify_and_presence_cross_instances_over_a_shared_backplane() -> None:
    """Two hubs on one backplane act as one: notify on A reaches a socket on B, B's user is online on A."""
    backplane = InMemoryBackplane()
    async with run_server(backplane=backplane) as a, run_server(backplane=backplane) as b:
        client = await Client.open(b, user=11)
        assert a.hub.is_online(11)
        await a.hub.notify(11, {"type": "booking-reminder", "booking_id": 1})
        assert (await client.recv())["event"]["type"] == "booking-reminder"


async def test_unauthenticated_socket_gets_no_events(server: Any) -> None:
    """An anonymous (guest) socket says hello as user null and is never online."""
    client = await Client.open(server, hello=False)
    await client.send({"type": "hello", "version": 1})
    assert (await client.recv())["user_id"] is None
    assert server.hub.connection_count == 1
