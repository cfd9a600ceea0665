"""The HTTP routes: ICE servers, WebSocket tokens and the pre-call echo peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import connect

from broker.deps import get_current_user
from broker.rtc import views
from signaling.client.media import PatternVideoTrack, ToneAudioTrack
from tests.conftest import LOADED_MACHINE_TIMEOUT
from tests.signaling.conftest import Server, run_server
from tests.waiting import eventually

TURN = {"turn_urls": ["turn:turn.example:3478"], "turn_secret": "s3cret", "stun_urls": ["stun:turn.example"]}


@pytest.fixture
async def api() -> AsyncIterator[tuple[Server, httpx.AsyncClient]]:
    async with run_server(settings={**TURN, "echo_peer_limit": 1, "echo_peer_seconds": 1.0}) as srv:
        user = SimpleNamespace(id=5, role="caseworker")
        for guard in (views.signed_in, views.call_parties):
            srv.app.dependency_overrides[guard] = lambda: None
        srv.app.dependency_overrides[get_current_user] = lambda: user
        async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=srv.http_url) as http:
            yield srv, http


async def test_ice_servers_carry_fresh_turn_credentials(api: tuple[Server, httpx.AsyncClient]) -> None:
    """The route lists STUN and TURN with a `expiry:user` username for the signed-in user."""
    _, http = api
    body = (await http.get("/api/rtc/ice-servers")).json()
    stun, turn = body["ice_servers"]
    assert stun["urls"] == ["stun:turn.example"]
    assert turn["username"].endswith(":5") and turn["credential"]


async def test_ws_token_opens_an_authenticated_socket(api: tuple[Server, httpx.AsyncClient]) -> None:
    """A token from the API signs a non-browser WebSocket client in as its user."""
    srv, http = api
    token = (await http.post("/api/rtc/ws-token")).json()["token"]
    async with connect(f"{srv.ws_url}?token={token}", compression=None) as ws:
        await ws.send('{"type":"hello","version":1}')
        assert '"user_id":5' in str(await ws.recv())


async def _offer_with_media() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(ToneAudioTrack())
    pc.addTrack(PatternVideoTrack())
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def test_echo_peer_returns_media_and_is_capped(api: tuple[Server, httpx.AsyncClient]) -> None:
    """The echo peer sends our media back, refuses a second caller and closes after its lifetime."""
    srv, http = api
    pc = await _offer_with_media()
    frames: list[str] = []

    @pc.on("track")
    def on_track(track: object) -> None:
        async def count() -> None:
            while True:
                await track.recv()  # type: ignore[attr-defined]
                frames.append(track.kind)  # type: ignore[attr-defined]

        asyncio.ensure_future(count())

    reply = await http.post("/api/rtc/echo", json={"sdp": pc.localDescription.sdp, "type": "offer"})
    assert reply.status_code == 200, reply.text
    await pc.setRemoteDescription(RTCSessionDescription(**{k: reply.json()[k] for k in ("sdp", "type")}))
    second = await _offer_with_media()
    busy = await http.post("/api/rtc/echo", json={"sdp": second.localDescription.sdp})
    assert busy.status_code == 503
    await eventually(lambda: frames.count("video") >= 5 and frames.count("audio") >= 5)
    await eventually(lambda: srv.hub.echo.count == 0, message="the echo peer closed after echo_peer_seconds")
    await asyncio.gather(pc.close(), second.close())


async def test_echo_refuses_garbage_sdp(api: tuple[Server, httpx.AsyncClient]) -> None:
    """An unusable offer is a 400, not a server error, and frees its slot."""
    srv, http = api
    reply = await http.post("/api/rtc/echo", json={"sdp": "hello", "type": "offer"})
    assert reply.status_code == 400
    assert srv.hub.echo.count == 0
