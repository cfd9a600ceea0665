"""The bus outbox: what an instance publishes to Redis, written by one task, never by a request.

Publishing used to be awaited where it happened (in an HTTP handler after the commit, in the
hub's ticker), so a hung Redis held a response for the socket timeout, once per frame, and a
dead one dropped every frame. Here `put` only appends to a bounded queue and returns; a single
writer sends the queue in order, each write with a short timeout. While Redis is away or hung
the queue holds the frames, and once a write succeeds again the backlog goes out in its order:
that is the replay of what other instances' sockets missed. Frames older than `max_age`
are dropped at sending time (an offer from minutes ago is worse than none: the socket gets
the current state on reconnect), and so is the oldest frame when the queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    message: str  # the JSON envelope for the bus channel
    set_op: tuple[str, str, str] | None  # ("sadd" | "srem", key, member): presence bookkeeping
    queued_at: float


Write = Callable[[Item], Awaitable[None]]


class Outbox:
    def __init__(self, write: Write, *, limit: int = 10_000, timeout: float = 0.5,
                 max_age: float = 30.0, retry_seconds: float = 0.25) -> None:
        self.write = write
        self.limit = limit
        self.timeout = timeout
        self.max_age = max_age
        self.retry_seconds = retry_seconds
        self.healthy = True  # the last write succeeded (False: Redis dead or hung)
        self.dropped = 0  # frames lost to a full queue or old age
        self.replayed = 0  # frames sent after having waited out a failure
        self._queue: deque[Item] = deque()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._backlog = 0  # frames still to send that waited out a failure
        # Called once before a backlog goes out, e.g. to wait until the other instances listen again.
        self.before_resume: Callable[[], Awaitable[None]] | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, message: str, set_op: tuple[str, str, str] | None = None) -> None:
        if len(self._queue) >= self.limit:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(Item(message, set_op, time.monotonic()))
        self._ready.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bus-outbox")

    async def stop(self, *, flush_seconds: float = 1.0) -> None:
        """Give the backlog a moment to go out, then stop the writer."""
        deadline = time.monotonic() + flush_seconds
        while self._queue and self.healthy and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failed_at: float | None = None  # when the current failure began
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            item = self._queue[0]
            if time.monotonic() - item.queued_at > self.max_age:
                self._queue.popleft()
                self.dropped += 1
                continue
            try:
                if failed_at is not None and self.before_resume is not None:
                    await self.before_resume()
                await asyncio.wait_for(self.write(item), self.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away or hung: keep the frame, try again shortly
                if failed_at is None:
                    failed_at = time.monotonic()
                    log.warning("bus write failed (%s); holding %d frames", type(exc).__name__, len(self._queue))
                self.healthy = False
                await asyncio.sleep(self.retry_seconds)
                continue
            self._queue.popleft()
            if failed_at is not None:
                log.warning("bus writable again after %.1fs; sending %d held frames",
                            time.monotonic() - failed_at, len(self._queue) + 1)
                self._backlog = len(self._queue) + 1
                failed_at = None
            self.healthy = True
            if self._backlog:
                self._backlog -= 1
                self.replayed += 1
