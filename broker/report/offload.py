"""Reports that compute for long run in a separate process, never on the app's event loop.

Planning, the dashboard (which contains it), coverage and simulation are CPU work in Python. On
the app's event loop they would stall every request and WebSocket of the instance; on a worker
thread they would still share the GIL, and one long C-level step (a garbage collection over a
report's millions of objects, a big sort) holds it for seconds. So the route hands the whole
report coroutine to a small pool of spawned processes. Each runs its own event loop and its own
read-only database engine (on SQLite a plain BEGIN in WAL mode, which never blocks the app's
writers) and sends the finished pydantic model back by pickle. The pool size bounds how many
such reports run at once (`VD_REPORT_WORKERS`); more wait in line.

Report functions handed over are module-level coroutines that take the session as the keyword
`db`; their arguments, results and exceptions cross by pickle.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from broker.config import Settings
from broker.database import make_engine, make_sessionmaker

T = TypeVar("T")

_lock = threading.Lock()
_processes: dict[int, ProcessPoolExecutor] = {}

# Set in a report process only: its one event loop and its engines, for the process's life.
_loop: asyncio.AbstractEventLoop | None = None
_engines: dict[str, AsyncEngine] = {}


def _pool(settings: Settings) -> ProcessPoolExecutor:
    with _lock:
        pool = _processes.get(settings.report_workers)
        if pool is None:
            # spawn, not fork: a forked child would inherit the app's threads' locks mid-air.
            pool = _processes[settings.report_workers] = ProcessPoolExecutor(
                max_workers=settings.report_workers, mp_context=multiprocessing.get_context("spawn"))
        return pool


def compute(settings: Settings, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a report process: directly when already in one, else waited for.

    Arguments, result and exceptions cross by pickle: module-level functions and plain models only.
    """
    if _loop is not None:
        return function(*args, **kwargs)
    return _pool(settings).submit(function, *args, **kwargs).result()


async def run_report(settings: Settings, report: Callable[..., Awaitable[T]], /, **kwargs: Any) -> T:
    """`await report(db=<read-only session>, **kwargs)` in a report process; the app's loop stays free."""
    future = _pool(settings).submit(_in_process, settings, report, kwargs)
    return await asyncio.wrap_future(future)


def _in_process(settings: Settings, report: Callable[..., Awaitable[T]], kwargs: dict[str, Any]) -> T:
    global _loop
    if _loop is None:
        import broker.models  # noqa: F401  (a report's queries join across every mapped table)

        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(_with_session(settings, report, kwargs))


async def _with_session(settings: Settings, report: Callable[..., Awaitable[T]], kwargs: dict[str, Any]) -> T:
    engine = _engines.get(settings.database_url)
    if engine is None:
        engine = _engines[settings.database_url] = make_engine(settings, read_only=True, pool_size=1)
    async with make_sessionmaker(engine)() as db:
        return await report(db=db, **kwargs)
