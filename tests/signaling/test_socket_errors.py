"""Bad input through the real server: the offender gets an error frame or a close code,
and a call in another room keeps working."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.signaling.conftest import Client, Server, run_server


@dataclass
class Pair:
    counter: Client
    interpreter: Client
    counter_id: str
    interpreter_id: str

    async def still_relays(self) -> None:
        """An offer from the counter arrives at the interpreter, stamped with the sender."""
        await self.counter.send({"type": "offer", "to": self.interpreter_id, "sdp": "v=0\r\n"})
        got = await self.interpreter.expect("offer", skip=("peer-joined", "peer-left"))
        assert got["from"] == self.counter_id


async def make_pair(srv: Server, room: str, users: tuple[int, int]) -> Pair:
    srv.open_room(room)
    counter = await Client.open(srv, user=users[0])
    interpreter = await Client.open(srv, user=users[1])
    c = await counter.join(room, srv.token(room, "counter", users[0]))
    i = await interpreter.join(room, srv.token(room, "interpreter", users[1]))
    assert c["type"] == i["type"] == "joined"
    await counter.expect("peer-joined")
    return Pair(counter, interpreter, c["peer_id"], i["peer_id"])


@pytest.fixture
async def world() -> AsyncIterator[tuple[Server, Pair]]:
    async with run_server(rate_per_second=20, rate_burst=40) as srv:
        yield srv, await make_pair(srv, "healthy", (100, 101))


async def test_foreign_origin_is_closed_with_1008(world: tuple[Server, Pair]) -> None:
    """A socket opened from a foreign page is closed with policy violation before anything else."""
    srv, pair = world
    evil = await Client.open(srv, user=1, origin="https://evil.example", hello=False)
    assert await evil.close_code() == 1008
    await pair.still_relays()


async def test_binary_frame_is_closed_with_1003(world: tuple[Server, Pair]) -> None:
    """Binary frames are not part of the protocol."""
    srv, pair = world
    client = await Client.open(srv, user=1)
    await client.send(b"\x00\x01")
    assert await client.close_code() == 1003
    await pair.still_relays()


async def test_message_over_64_kib_is_closed_with_1009(world: tuple[Server, Pair]) -> None:
    """A text frame over the cap closes the socket as too big."""
    srv, pair = world
    client = await Client.open(srv, user=1)
    await client.send('{"type":"ping","pad":"' + "x" * 70_000 + '"}')
    assert await client.close_code() == 1009
    await pair.still_relays()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{oops", "bad-json"),
        ('{"type": "shout"}', "unknown-type"),
        ('{"type": "join", "room": "x"}', "invalid"),
        ('{"type": "ping", "extra": 1}', "invalid"),
        ('{"type": "welcome", "user_id": 1, "heartbeat_seconds": 1}', "unexpected-type"),
        ('{"type": "offer", "to": "nobody", "sdp": "v=0"}', "not-in-room"),
    ],
)
async def test_bad_messages_get_an_error_frame(world: tuple[Server, Pair], frame: str, code: str) -> None:
    """Malformed, unknown, incomplete, over-complete or misplaced messages get an error frame."""
    srv, pair = world
    client = await Client.open(srv, user=1)
    await client.send(frame)
    assert (await client.expect("error"))["code"] == code
    await client.send({"type": "ping"})
    await client.expect("pong")  # the offender's socket is still usable
    await pair.still_relays()


async def test_message_to_a_peer_outside_the_room_is_refused(world: tuple[Server, Pair]) -> None:
    """A peer id from another room is unknown here: nothing leaves the sender's room."""
    srv, pair = world
    other = await make_pair(srv, "other", (200, 201))
    await other.counter.send({"type": "offer", "to": pair.interpreter_id, "sdp": "v=0"})
    assert (await other.counter.expect("error"))["code"] == "unknown-peer"
    await pair.still_relays()
    with pytest.raises(asyncio.TimeoutError):
        await pair.interpreter.recv(timeout=0.2)


async def test_first_message_must_be_hello(world: tuple[Server, Pair]) -> None:
    """A client that skips hello gets an error and a protocol-error close."""
    srv, pair = world
    client = await Client.open(srv, user=1, hello=False)
    await client.send({"type": "ping"})
    assert (await client.expect("error"))["code"] == "hello-required"
    assert await client.close_code() == 1002
    unsupported = await Client.open(srv, user=1, hello=False)
    await unsupported.send({"type": "hello", "version": 99})
    assert (await unsupported.expect("error"))["code"] == "version-unsupported"
    await pair.still_relays()


@pytest.mark.parametrize("case", ["forged", "expired", "replayed", "other-room", "other-user", "anonymous"])
async def test_bad_join_tokens_are_refused(world: tuple[Server, Pair], case: str) -> None:
    """Forged, expired, replayed, other-room and other-user tokens never take a seat."""
    srv, pair = world
    srv.open_room("r2")
    client = await Client.open(srv, user=5)
    room, token = "r2", srv.token("r2", "counter", 5)
    expected = {"forged": "token-invalid", "expired": "token-expired", "replayed": "token-used",
                "other-room": "token-wrong-room", "other-user": "token-wrong-user",
                "anonymous": "unauthorized"}[case]
    if case == "forged":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    elif case == "expired":
        token = srv.token("r2", "counter", 5, seconds=-1)
    elif case == "replayed":
        holder = await Client.open(srv, user=5)
        assert (await holder.join("r2", token))["type"] == "joined"
    elif case == "other-room":
        room = "healthy"
    elif case == "other-user":
        token = srv.token("r2", "counter", 6)
    else:
        client = await Client.open(srv)
    reply = await client.join(room, token)
    assert (reply["type"], reply["code"]) == ("error", expected)
    await pair.still_relays()


async def test_token_of_a_closed_call_is_useless(world: tuple[Server, Pair]) -> None:
    """After close_room the room's members get room-closed and its tokens no longer work."""
    srv, pair = world
    srv.open_room("short")
    a, b = await Client.open(srv, user=7), await Client.open(srv, user=8)
    assert (await a.join("short", srv.token("short", "counter", 7)))["type"] == "joined"
    late = srv.token("short", "interpreter", 8)
    await srv.hub.close_room("short")
    assert (await a.expect("room-closed"))["room"] == "short"
    assert (await b.join("short", late))["code"] == "room-closed"
    await pair.still_relays()


async def test_joining_a_full_room_is_refused(world: tuple[Server, Pair]) -> None:
    """With counter, interpreter and guest seated, another guest is refused."""
    srv, pair = world
    guest = await Client.open(srv)
    assert (await guest.join("healthy", srv.token("healthy", "guest")))["type"] == "joined"
    extra = await Client.open(srv)
    reply = await extra.join("healthy", srv.token("healthy", "guest"))
    assert reply["code"] == "room-full"
    await pair.still_relays()


async def test_flood_above_the_rate_is_closed_with_1008(world: tuple[Server, Pair]) -> None:
    """A client sending far above its per-connection rate is closed as a policy violation."""
    srv, pair = world
    client = await Client.open(srv, user=1)
    for _ in range(200):
        await client.send({"type": "ping"})
    assert await client.close_code() == 1008
    await pair.still_relays()


async def test_silent_client_is_pinged_then_closed() -> None:
    """The server pings an idle client and closes it once it has been silent for the timeout."""
    async with run_server(heartbeat_seconds=0.3, silence_timeout_seconds=0.8) as srv:
        quiet = await Client.open(srv, user=1)
        chatty = await Client.open(srv, user=2)
        assert (await quiet.recv(timeout=2))["type"] == "ping"
        for _ in range(8):  # answering pings keeps a client alive
            await asyncio.sleep(0.15)  # the behaviour under test: a client that answers at a pace
            await chatty.send({"type": "pong"})
        assert await quiet.close_code() == 4408
        await chatty.send({"type": "ping"})
        await chatty.expect("pong")
