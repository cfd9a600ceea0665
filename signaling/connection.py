"""One client socket as the hub sees it: who it is, which seat it holds, when it last spoke."""

from __future__ import annotations

import asyncio
import itertools
import logging

from starlette.websockets import WebSocket

from signaling.principal import Principal
from signaling.ratelimit import TokenBucket

log = logging.getLogger(__name__)
_ids = itertools.count(1)

# Close codes (1xxx from RFC 6455; 4xxx our own, documented in docs/signaling.md).
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL = 1002
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SILENT = 4408
CLOSE_SLOW = 4429


class Connection:
    # __slots__: thousands of these live at once; the memory target is per connection.
    __slots__ = (
        "id", "ws", "principal", "room_id", "peer_id", "hello_done",
        "last_seen", "last_ping", "bucket", "closed", "send_timeout",
    )

    def __init__(
        self, ws: WebSocket, principal: Principal | None, bucket: TokenBucket, now: float, send_timeout: float
    ) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.principal = principal
        self.room_id: str | None = None
        self.peer_id: str | None = None
        self.hello_done = False
        self.last_seen = now
        self.last_ping = now
        self.bucket = bucket
        self.closed = False
        self.send_timeout = send_timeout

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None

    async def send(self, frame: str) -> bool:
        """Send one frame; a dead or stuck socket is closed, never allowed to block the sender."""
        if self.closed:
            return False
        try:
            # asyncio.timeout, not wait_for: no extra task per frame on the relay hot path.
            async with asyncio.timeout(self.send_timeout):
                await self.ws.send_text(frame)
            return True
        except TimeoutError:
            await self.close(CLOSE_SLOW, "too slow to receive")
        except Exception:  # noqa: BLE001 - any failure means the socket is gone
            self.closed = True
        return False

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.ws.close(code=code, reason=reason)
        except Exception:  # noqa: BLE001 - closing an already broken socket is fine
            log.debug("close of connection %s failed", self.id, exc_info=True)
