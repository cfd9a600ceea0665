"""Sliding-window throttle for failed logins, per username and per client address."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class LoginThrottle:
    def __init__(self, *, attempts: int, window_seconds: float) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            q = self._prune(key, now)
            if len(q) >= self.attempts:
                wait = max(wait, self.window - (now - q[0]))
        return int(wait) + 1 if wait > 0 else 0

    def fail(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._prune(key, now).append(now)

    def succeed(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
