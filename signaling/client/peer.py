"""A headless aiortc participant speaking our signalling protocol (probe, tests, benchmark).

Negotiation rule for aiortc peers: whoever joins (or rejoins) offers to everyone already in
the room; the others answer. aiortc has no `restartIce` and gathers all candidates in
`setLocalDescription`, so renegotiation means a fresh RTCPeerConnection per offer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from websockets.asyncio.client import ClientConnection, connect

from signaling import protocol as p
from signaling.client.media import PatternVideoTrack, ToneAudioTrack

log = logging.getLogger(__name__)


class SignalingRefused(Exception):
    def __init__(self, error: p.Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.code = error.code


class Participant:
    def __init__(
        self,
        url: str,
        *,
        room: str,
        token: str,
        headers: Mapping[str, str] | None = None,
        send_media: bool = True,
        ice_servers: list[dict[str, Any]] | None = None,
    ) -> None:
        self.url, self.room, self.token = url, room, token
        self.headers = dict(headers or {})
        self.send_media = send_media
        # None: take the servers the signalling server hands out in `joined`.
        self.ice_servers = ice_servers
        self.ws: ClientConnection | None = None
        self.joined: p.Joined | None = None
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.frames: dict[str, Counter[str]] = {}
        self.events: list[p.Event] = []
        self.notices: list[p.Message] = []  # peer-joined, peer-left, room-closed, errors
        self._connected: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        # Bumped by start() and drop(): work begun for an older socket (a reader that aiortc kept
        # busy past drop) must not touch the new session's peer connections or socket.
        self._session = 0

    # --- connection ----------------------------------------------------------------------

    async def start(self) -> p.Joined:
        """Connect, say hello, join the room and offer to everyone already there.

        May be called again after `drop()` (a reconnect, perhaps to another instance via `url`):
        frame counts restart with each new peer connection.
        """
        self._session += 1
        session = self._session
        self.ws = await connect(self.url, additional_headers=self.headers, compression=None, open_timeout=10)
        await self._send(p.Hello(version=p.PROTOCOL_VERSION))
        await self._expect(p.Welcome)
        await self._send(p.Join(room=self.room, token=self.token))
        joined = await self._expect(p.Joined)
        self.joined = joined
        if self.ice_servers is None:
            self.ice_servers = [s.model_dump(exclude_none=True) for s in joined.ice_servers]
        self._reader = asyncio.create_task(self._read_forever(self.ws, session))
        for peer in joined.peers:
            await self._offer_to(peer.peer_id, session)
        return joined

    async def drop(self) -> None:
        """Lose the socket and all media without saying goodbye (a crashed tab, a dead line)."""
        self._session += 1
        if self._reader is not None:
            self._reader.cancel()
            # aiortc may be mid-negotiation and slow to notice the cancel; never hang on it.
            await asyncio.wait({self._reader}, timeout=2)
            self._reader = None
        if self.ws is not None:
            await self.ws.close()
        await self._close_pcs()
        for task in list(self._tasks):  # frame counters of the closed peer connections
            task.cancel()

    async def close(self) -> None:
        if self.ws is not None and self.ws.state.name == "OPEN":
            with contextlib.suppress(Exception):
                await self._send(p.Leave())
        await self.drop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- waiting -------------------------------------------------------------------------

    async def wait_connected(self, peer_id: str | None = None, timeout: float = 10.0) -> float:
        """Wait until ICE is connected to the peer (any peer if None); return the time it took."""
        start = time.monotonic()
        async with asyncio.timeout(timeout):
            while True:
                pid = peer_id or next(iter(self._connected), None)
                if pid is not None and pid in self._connected:
                    await self._connected[pid].wait()
                    return time.monotonic() - start
                async with self._changed:
                    await self._changed.wait()

    async def wait_frames(self, peer_id: str, *, audio: int, video: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                got = self.frames.get(peer_id, Counter())
                if got["audio"] >= audio and got["video"] >= video:
                    return
                await asyncio.sleep(0.05)

    async def stats(self) -> dict[str, dict[str, Any]]:
        """getStats figures per peer, flattened to plain values."""
        out: dict[str, dict[str, Any]] = {}
        for peer_id, pc in self.pcs.items():
            report = await pc.getStats()
            for key, stat in report.items():
                out[f"{peer_id}/{key}"] = {k: v for k, v in vars(stat).items() if not k.startswith("_")}
        return out

    # --- internals -----------------------------------------------------------------------

    async def _send(self, message: p._Message) -> None:
        assert self.ws is not None
        await self.ws.send(p.serialize(message))

    async def _expect(self, kind: type[p._Message]) -> Any:
        assert self.ws is not None
        async with asyncio.timeout(10):
            while True:
                msg = p.parse(await self.ws.recv())
                if isinstance(msg, p.Error):
                    raise SignalingRefused(msg)
                if isinstance(msg, kind):
                    return msg
                await self._dispatch(msg, self._session)

    async def _read_forever(self, ws: ClientConnection, session: int) -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                if session != self._session:
                    return
                await self._dispatch(p.parse(frame), session)

    async def _dispatch(self, msg: p.Message, session: int) -> None:
        if isinstance(msg, p.Offer) and msg.from_:
            await self._answer(msg.from_, msg.sdp, session)
        elif isinstance(msg, p.Answer) and msg.from_ in self.pcs:
            await self.pcs[msg.from_].setRemoteDescription(RTCSessionDescription(sdp=msg.sdp, type="answer"))
        elif isinstance(msg, p.Candidate) and msg.from_ in self.pcs and msg.candidate is not None:
            line = msg.candidate.candidate.removeprefix("candidate:")
            if line:
                cand = candidate_from_sdp(line)
                cand.sdpMid, cand.sdpMLineIndex = msg.candidate.sdpMid, msg.candidate.sdpMLineIndex
                await self.pcs[msg.from_].addIceCandidate(cand)
        elif isinstance(msg, p.Ping):
            await self._send(p.Pong())
        elif isinstance(msg, p.Event):
            self.events.append(msg)
        else:
            self.notices.append(msg)
            if isinstance(msg, p.PeerJoined) and msg.rejoined:
                await self._close_pc(msg.peer.peer_id)  # it lost its side; it will offer afresh
            elif isinstance(msg, p.PeerLeft) and msg.reason != "dropped":
                await self._close_pc(msg.peer_id)
            elif isinstance(msg, p.Bye) and msg.from_:
                await self._close_pc(msg.from_)
        async with self._changed:
            self._changed.notify_all()

    def _new_pc(self, peer_id: str) -> RTCPeerConnection:
        servers = [RTCIceServer(**s) for s in (self.ice_servers or [])]
        # One transport for audio and video: half the ICE checks, and nothing left half-started at close.
        config = RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        pc = RTCPeerConnection(configuration=config)
        self.pcs[peer_id] = pc
        self.frames[peer_id] = Counter()
        connected = self._connected[peer_id] = asyncio.Event()

        @pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            if pc.iceConnectionState in ("connected", "completed"):
                connected.set()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(self._count(peer_id, track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        if self.send_media:
            pc.addTrack(ToneAudioTrack())
            pc.addTrack(PatternVideoTrack())
        else:
            pc.addTransceiver("audio", direction="recvonly")
            pc.addTransceiver("video", direction="recvonly")
        return pc

    async def _count(self, peer_id: str, track: MediaStreamTrack) -> None:
        counter = self.frames[peer_id]
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                counter[track.kind] += 1

    async def _offer_to(self, peer_id: str, session: int) -> None:
        await self._close_pc(peer_id)
        if session != self._session:
            return
        pc = self._new_pc(peer_id)
        await pc.setLocalDescription(await pc.createOffer())
        if await self._stale(peer_id, pc, session):
            return
        await self._send(p.Offer(to=peer_id, sdp=pc.localDescription.sdp))

    async def _answer(self, peer_id: str, sdp: str, session: int) -> None:
        await self._close_pc(peer_id)
        if session != self._session:
            return
        pc = self._new_pc(peer_id)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        if await self._stale(peer_id, pc, session):
            return
        await self._send(p.Answer(to=peer_id, sdp=pc.localDescription.sdp))

    async def _stale(self, peer_id: str, pc: RTCPeerConnection, session: int) -> bool:
        """True (and `pc` closed) if the socket this negotiation began on was dropped meanwhile."""
        if session == self._session:
            return False
        if self.pcs.get(peer_id) is pc:
            del self.pcs[peer_id]
        await pc.close()
        return True

    async def _close_pc(self, peer_id: str) -> None:
        pc = self.pcs.pop(peer_id, None)
        self._connected.pop(peer_id, None)
        if pc is not None:
            await pc.close()

    async def _close_pcs(self) -> None:
        for peer_id in list(self.pcs):
            await self._close_pc(peer_id)
