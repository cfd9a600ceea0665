"""Waiting for conditions, not for time: tests poll a condition until a deadline."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.01


async def eventually(condition: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0,
                     message: str | None = None) -> T:
    """Return the condition's first truthy value; fail the test if none comes within `timeout` s.

    30 s by default: two suites at once on two cores (issue 13) made 10 s too short for media to flow.

    The condition may be a plain or an async function. It is checked at once and then every
    few milliseconds, so a fast machine does not wait and a loaded one gets the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s: {condition}")
        await asyncio.sleep(POLL_SECONDS)
