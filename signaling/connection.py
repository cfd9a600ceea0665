"""One client socket as the hub sees it: who it is, which seat it holds, when it last spoke."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

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
CLOSE_SIGNED_OUT = 4401  # the sign-in behind the socket ended (logout, deactivation)
CLOSE_SILENT = 4408
CLOSE_SLOW = 4429


class Connection:
    # __slots__: thousands of these live at once; the memory target is per connection.
    __slots__ = (
        "id", "ws", "principal", "room_id", "peer_id", "hello_done",
        "last_seen", "last_ping", "bucket", "closed", "send_timeout", "sending", "expired",
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
        # Sends in progress (task -> monotonic start) and those the watchdog gave up on. A send
        # blocks only while the peer's transport is paused (its buffer over the high-water mark),
        # so memory per slow peer stays bounded by that buffer plus one frame per blocked sender.
        self.sending: dict[asyncio.Task[object], float] = {}
        self.expired: set[asyncio.Task[object]] = set()

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None

    async def send(self, frame: str) -> bool:
        """Send one frame; a dead or stuck socket is closed, never allowed to block the sender.

        No timer per frame (asyncio.timeout cost ~10 % of the relay path): the hub's ticker calls
        `expire_sends`, which cancels a send blocked longer than `send_timeout`.
        """
        if self.closed:
            return False
        task = asyncio.current_task()
        if task is None or task in self.sending:  # not in a task, or re-entered: keep it simple
            return await self._send_with_timeout(frame)
        self.sending[task] = time.monotonic()
        try:
            await self.ws.send_text(frame)
            return True
        except asyncio.CancelledError:
            if task in self.expired and task.uncancel() == 0:
                return False  # our watchdog's cancel, nobody else's: the sender carries on
            raise
        except Exception:  # noqa: BLE001 - any failure means the socket is gone
            self.closed = True
            return False
        finally:
            del self.sending[task]
            self.expired.discard(task)

    def expire_sends(self, mono: float) -> bool:
        """Cancel sends blocked for `send_timeout` (the peer does not read); True if there were any."""
        late = [t for t, since in self.sending.items() if mono - since >= self.send_timeout and t not in self.expired]
        for task in late:
            self.expired.add(task)
            task.cancel()
        return bool(late)

    async def _send_with_timeout(self, frame: str) -> bool:
        try:
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
            # A paused transport would block the close frame too: never wait for it for long.
            async with asyncio.timeout(self.send_timeout):
                await self.ws.close(code=code, reason=reason)
        except Exception:  # noqa: BLE001 - closing an already broken socket is fine
            log.debug("close of connection %s failed", self.id, exc_info=True)
