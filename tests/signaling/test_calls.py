"""Real WebRTC calls between aiortc peers through the real signalling server."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client.peer import Participant, SignalingRefused
from tests.signaling.conftest import Server, run_server
from tests.waiting import eventually


async def test_two_peers_exchange_audio_and_video(server: Server) -> None:
    """Counter and interpreter join one room, reach ICE connected and receive each other's media."""
    server.open_room("call-1")
    counter = server.participant("call-1", "counter", 1)
    interpreter = server.participant("call-1", "interpreter", 2)
    try:
        await counter.start()
        joined = await interpreter.start()  # the newcomer offers
        assert joined.peers[0].role == "counter" and joined.peers[0].polite is True
        counter_id, interpreter_id = joined.peers[0].peer_id, joined.peer_id
        await interpreter.wait_connected(counter_id)
        await counter.wait_connected(interpreter_id)
        await interpreter.wait_frames(counter_id, audio=10, video=5)
        await counter.wait_frames(interpreter_id, audio=10, video=5)
        stats = await counter.stats()
        assert any(s.get("type") == "inbound-rtp" and s["packetsReceived"] > 0 for s in stats.values())
    finally:
        await asyncio.gather(counter.close(), interpreter.close())


async def test_dropped_peer_rejoins_within_grace_and_media_flows_again(server: Server) -> None:
    """A peer losing socket and media rejoins with its token; the peers renegotiate and media resumes."""
    server.open_room("call-2")
    token = server.token("call-2", "interpreter", 2)
    counter = server.participant("call-2", "counter", 1)
    interpreter = Participant(server.ws_url + "?user=2", room="call-2", token=token)
    again = Participant(server.ws_url + "?user=2", room="call-2", token=token)
    try:
        await counter.start()
        first = await interpreter.start()
        await counter.wait_connected(first.peer_id)
        await interpreter.drop()
        assert await eventually(lambda: any(getattr(n, "reason", None) == "dropped" for n in counter.notices))
        second = await again.start()
        assert second.rejoined and second.peer_id == first.peer_id
        await again.wait_connected(first.peers[0].peer_id)
        await counter.wait_connected(first.peer_id)
        before = counter.frames[first.peer_id]["video"]
        await counter.wait_frames(first.peer_id, audio=10, video=before + 5)
        await again.wait_frames(first.peers[0].peer_id, audio=10, video=5)
    finally:
        await asyncio.gather(counter.close(), interpreter.close(), again.close())


async def test_the_same_participant_object_rejoins_after_drop_and_media_flows(server: Server) -> None:
    """A Participant reused after drop() (a reconnect) rejoins its seat; media flows both ways again."""
    server.open_room("call-2b")
    counter = server.participant("call-2b", "counter", 1)
    interpreter = server.participant("call-2b", "interpreter", 2)
    try:
        await counter.start()
        first = await interpreter.start()
        counter_peer = first.peers[0].peer_id
        await counter.wait_frames(first.peer_id, audio=5, video=5)
        old_pc = counter.pcs[first.peer_id]
        await interpreter.drop()
        second = await interpreter.start()
        assert second.rejoined and second.peer_id == first.peer_id
        await interpreter.wait_frames(counter_peer, audio=5, video=5)
        # the counter answers the rejoiner on a fresh connection
        await eventually(lambda: counter.pcs.get(first.peer_id) not in (None, old_pc))
        await counter.wait_frames(first.peer_id, audio=5, video=5)
    finally:
        await asyncio.gather(counter.close(), interpreter.close())


async def test_third_participant_joins_and_a_fourth_is_refused(server: Server) -> None:
    """A guest joins counter and interpreter and connects to both; a fourth joiner is refused."""
    server.open_room("call-3")
    counter = server.participant("call-3", "counter", 1)
    interpreter = server.participant("call-3", "interpreter", 2)
    guest = Participant(server.ws_url, room="call-3", token=server.token("call-3", "guest"), send_media=False)
    fourth = Participant(server.ws_url, room="call-3", token=server.token("call-3", "guest"))
    try:
        await counter.start()
        await interpreter.start()
        joined = await guest.start()
        assert len(joined.peers) == 2 and all(peer.polite is True for peer in joined.peers)
        for peer in joined.peers:
            await guest.wait_connected(peer.peer_id)
            await guest.wait_frames(peer.peer_id, audio=5, video=3)
        with pytest.raises(SignalingRefused) as info:
            await fourth.start()
        assert info.value.code == "room-full"
    finally:
        await asyncio.gather(counter.close(), interpreter.close(), guest.close(), fourth.close())


async def test_seat_is_freed_after_rejoin_grace() -> None:
    """Peers hear `dropped` at once and `expired` when the rejoin grace has passed."""
    async with run_server(settings={"rejoin_grace_seconds": 0.3}, tick_seconds=0.05) as srv:
        srv.open_room("call-4")
        counter = Participant(srv.ws_url + "?user=1", room="call-4", token=srv.token("call-4", "counter", 1),
                              send_media=False)
        guest = Participant(srv.ws_url, room="call-4", token=srv.token("call-4", "guest"), send_media=False)
        try:
            await counter.start()
            await guest.start()
            await guest.drop()

            def reasons() -> list[str | None]:
                return [getattr(n, "reason", None) for n in counter.notices if n.type == "peer-left"]

            await eventually(lambda: len(reasons()) >= 2)
            assert reasons() == ["dropped", "expired"]
        finally:
            await asyncio.gather(counter.close(), guest.close())
