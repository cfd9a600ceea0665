"""Server-side aiortc echo peers for the pre-call check (camera, microphone, network).

The echo peer always answers and never offers: aiortc has no `restartIce`, so a failed check
is simply torn down and started again by the client. Peers are capped in number (they cost
CPU: every frame is decoded and encoded again) and closed after a fixed lifetime.
"""

from __future__ import annotations

import asyncio
import logging

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)

log = logging.getLogger(__name__)


class EchoBusy(Exception):
    """All echo slots are taken; the client should retry in a minute."""


class EchoPeers:
    def __init__(self, *, limit: int, lifetime: float, ice_servers: list[dict[str, object]]) -> None:
        self.limit = limit
        self.lifetime = lifetime
        self.ice_servers = ice_servers
        self._peers: dict[RTCPeerConnection, asyncio.TimerHandle | None] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return len(self._peers)

    async def answer(self, sdp: str, kind: str = "offer") -> RTCSessionDescription:
        """Take an SDP offer, return the echo peer's answer (all candidates inside, no trickle)."""
        if len(self._peers) >= self.limit:
            raise EchoBusy(f"all {self.limit} echo peers are busy")
        config = RTCConfiguration(iceServers=[RTCIceServer(**s) for s in self.ice_servers])  # type: ignore[arg-type]
        pc = RTCPeerConnection(configuration=config)
        self._peers[pc] = None  # reserve the slot before the first await

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            # Send the caller's own media straight back: that is the whole check.
            pc.addTrack(track)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
            if not pc.getTransceivers():
                raise ValueError("the offer has no audio or video to echo")
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self._close(pc)
            raise
        if pc in self._peers:
            loop = asyncio.get_running_loop()
            self._peers[pc] = loop.call_later(self.lifetime, self._close_later, pc)
        return pc.localDescription

    def _close_later(self, pc: RTCPeerConnection) -> None:
        task = asyncio.ensure_future(self._close(pc))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, pc: RTCPeerConnection) -> None:
        if pc not in self._peers:
            return
        timer = self._peers.pop(pc)
        if timer is not None:
            timer.cancel()
        await pc.close()

    async def close_all(self) -> None:
        await asyncio.gather(*(self._close(pc) for pc in list(self._peers)), return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)
