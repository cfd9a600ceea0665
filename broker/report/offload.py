"""Reports that compute for long run on a worker thread with its own event loop, never on the app's.

Planning (and the dashboard, which contains it) is CPU work in Python: on the app's event loop
it would stall every request and WebSocket of the instance for as long as it computes. So the
route hands the whole report coroutine to a small pool of worker threads; each runs its own
event loop and its own read-only database engine (on SQLite a plain BEGIN in WAL mode, which
never blocks the app's writers) and hands the finished pydantic model back. The worker shares
the GIL with the app's loop; CPython passes the GIL on every few milliseconds, so the loop keeps
answering database-bound reports. Simulation (a head-count plan, what-if, training advice: up to
two minutes of pure Python) goes one step further with `compute`: it runs in a separate process
(spawned, importing only what the function needs), so no call's signalling on this instance
waits for the GIL meanwhile. The pool size bounds how many such reports run at once
(`VD_REPORT_WORKERS`, for threads and processes alike); more wait in line.

Report functions handed over take the session as the keyword `db`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from broker.config import Settings
from broker.database import make_engine, make_sessionmaker

T = TypeVar("T")

_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_processes: dict[int, ProcessPoolExecutor] = {}
_local = threading.local()


def _executor(settings: Settings) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(settings.report_workers)
        if pool is None:
            pool = _pools[settings.report_workers] = ThreadPoolExecutor(
                max_workers=settings.report_workers, thread_name_prefix="report"
            )
        return pool


def compute(settings: Settings, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a planning process, waited for on the calling (worker) thread.

    Arguments, result and exceptions cross by pickle: module-level functions and plain models only.
    """
    with _lock:
        pool = _processes.get(settings.report_workers)
        if pool is None:
            pool = _processes[settings.report_workers] = ProcessPoolExecutor(
                max_workers=settings.report_workers, mp_context=multiprocessing.get_context("spawn"))
    return pool.submit(function, *args, **kwargs).result()


async def run_report(settings: Settings, report: Callable[..., Awaitable[T]], /, **kwargs: Any) -> T:
    """`await report(db=<read-only session>, **kwargs)` on a worker thread; the app's loop stays free."""
    loop = asyncio.get_running_loop()
    result: T = await loop.run_in_executor(_executor(settings), _in_worker, settings, report, kwargs)
    return result


def _in_worker(settings: Settings, report: Callable[..., Awaitable[T]], kwargs: dict[str, Any]) -> T:
    # One loop per worker thread for its whole life: its pooled connections belong to it.
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
        _local.engines = {}
    return loop.run_until_complete(_with_session(settings, report, kwargs))


async def _with_session(settings: Settings, report: Callable[..., Awaitable[T]], kwargs: dict[str, Any]) -> T:
    engines: dict[str, AsyncEngine] = _local.engines
    engine = engines.get(settings.database_url)
    if engine is None:
        engine = engines[settings.database_url] = make_engine(settings, read_only=True, pool_size=1)
    async with make_sessionmaker(engine)() as db:
        return await report(db=db, **kwargs)
