"""The one active scheduler: APScheduler 3 on the app's event loop, jobs in the app's database,
and a database lease deciding which process runs them.

Every process starts its scheduler *paused*: it can add and remove jobs in the shared job
store, but only the lease holder resumes it and runs due jobs. The holder renews the lease
every third of its length; a holder that cannot renew pauses itself before the lease can
expire (self-fencing), and any other process takes over once it has expired. On taking over,
`on_leader` hooks re-create jobs from the database state (the source of truth), so a job lost
in a crash is run late rather than never. Jobs must therefore be idempotent.

The job store speaks synchronous SQLAlchemy. Its I/O runs on one worker thread, never in the
event loop: on SQLite a synchronous write from the loop would wait for the write lock held by
a coroutine that cannot finish while the loop is blocked.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_coroutine_job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED, BaseScheduler
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.live.unit import NOWHERE, Outlet
from broker.scheduler import lease as lease_service

log = logging.getLogger(__name__)
LEASE_NAME = "scheduler"


@dataclass
class JobRuntime:
    """What a job needs besides its ids; handed to each job through a context variable."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    outlet: Outlet = NOWHERE  # where a job's committed effects go (`broker.live.unit`)


_RUNTIME: contextvars.ContextVar[JobRuntime] = contextvars.ContextVar("vd_job_runtime")


def current_runtime() -> JobRuntime:
    """The runtime of the scheduler running the current job (raises outside a job)."""
    return _RUNTIME.get()


def sync_database_url(url: str) -> str:
    """The synchronous driver URL for the job store: sqlite:/// or postgresql+psycopg://."""
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return f"{base}{sep}{rest}"


class _LoopExecutor(BaseExecutor):
    """Runs coroutine jobs on the scheduler's event loop; safe to submit from any thread."""

    def __init__(self, runtime: JobRuntime) -> None:
        super().__init__()
        self._runtime = runtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self.running: set[Future[Any]] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        assert self._loop is not None
        runtime, logger_name = self._runtime, self._logger.name

        async def run() -> Any:
            _RUNTIME.set(runtime)
            return await run_coroutine_job(job, job._jobstore_alias, run_times, logger_name)

        def done(fut: Future[Any]) -> None:
            self.running.discard(fut)
            try:
                events = fut.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        fut = asyncio.run_coroutine_threadsafe(run(), self._loop)
        self.running.add(fut)
        fut.add_done_callback(done)


class _ThreadedStoreScheduler(AsyncIOScheduler):
    """AsyncIOScheduler whose job processing (job-store I/O) runs on one worker thread."""

    def __init__(self, *, io: ThreadPoolExecutor, **options: Any) -> None:
        self._io = io
        self._busy = False
        self._again = False
        super().__init__(**options)

    def wakeup(self) -> None:
        loop = self._eventloop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup_in_loop)

    def _wakeup_in_loop(self) -> None:
        if self._eventloop is None or self.state == STATE_STOPPED:
            return
        self._stop_timer()
        if self._busy:
            self._again = True
            return
        self._busy = True
        future = self._eventloop.run_in_executor(self._io, self._process_jobs)
        future.add_done_callback(self._processed)

    def _processed(self, future: asyncio.Future[float | None]) -> None:
        self._busy = False
        wait: float | None
        if future.cancelled():
            return
        if (exc := future.exception()) is not None:
            log.error("processing due jobs failed: %r", exc)
            wait = self.jobstore_retry_interval
        else:
            wait = future.result()
        if self._again:
            self._again = False
            self._wakeup_in_loop()
        elif self.state != STATE_STOPPED and self._eventloop is not None:
            self._start_timer(wait)


LeaderHook = Callable[["Scheduler"], Awaitable[None]]
TAKEOVER_MARGIN_SECONDS = 0.02


def next_attempt_in(interval: float, expires_in: float | None) -> float:
    """When to try for the lease again. A follower that knows when the holder's lease runs out
    tries right then, not on its own beat: with a fixed beat the takeover after a holder's
    death took up to a lease period plus a beat (16.7 s with a 15 s lease); now at most one
    lease period after the holder's last renewal, so at most one lease period after its death."""
    if expires_in is None:
        return interval
    return max(0.0, min(interval, expires_in + TAKEOVER_MARGIN_SECONDS))


class Scheduler:
    """One per process: a paused APScheduler plus the lease loop that decides who runs jobs."""

    def __init__(self, *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession],
                 outlet: Outlet = NOWHERE, holder: str | None = None,
                 lease_seconds: float | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.runtime = JobRuntime(sessionmaker=sessionmaker, settings=settings, outlet=outlet)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_seconds = lease_seconds or settings.scheduler_lease_seconds
        self.on_leader: list[LeaderHook] = []
        self._hook_tasks: set[asyncio.Future[None]] = set()
        self.is_leader = False
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vd-jobstore")
        self._aps: _ThreadedStoreScheduler | None = None
        self._executor: _LoopExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._needs_reconcile = False

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        url = sync_database_url(self.settings.database_url)
        options: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        store = SQLAlchemyJobStore(engine=create_engine(url, **options))
        self._executor = _LoopExecutor(self.runtime)
        self._aps = _ThreadedStoreScheduler(
            io=self._io, event_loop=loop, jobstores={"default": store},
            executors={"default": self._executor}, timezone="UTC",
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        for attempt in range(3):  # two processes creating the job table at once: one loses
            try:
                await self._in_io(partial(self._aps.start, paused=True))
                break
            except Exception:
                if attempt == 2:
                    raise
                log.warning("job store start failed, retrying", exc_info=True)
                await asyncio.sleep(0.2)
        self._task = asyncio.create_task(self._lease_loop(), name="scheduler-lease")

    def add_leader_hook(self, hook: LeaderHook) -> None:
        """Run `hook` whenever this process takes the lease (at once if it holds it already)."""
        if hook in self.on_leader:
            return
        self.on_leader.append(hook)
        if self.is_leader:
            task = asyncio.ensure_future(hook(self))
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_tasks.discard)

    async def stop(self, *, release: bool = True) -> None:
        """Stop running jobs; `release=False` mimics a crash (the lease simply expires)."""
        if self._task is not None:
            # Let the loop finish its current transaction: cancelling it inside one could leave
            # a SQLite connection holding the write lock.
            self._stopping.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        aps = self._aps
        if aps is not None and aps.state != STATE_STOPPED:
            aps.pause()
            aps._stop_timer()
            if self._executor is not None and self._executor.running:
                await asyncio.gather(*(asyncio.wrap_future(f) for f in list(self._executor.running)),
                                     return_exceptions=True)
            await self._in_io(partial(BaseScheduler.shutdown, aps, False))
        if release and self.is_leader:
            try:
                async with self.sessionmaker() as db:
                    await lease_service.release(db=db, name=LEASE_NAME, holder=self.holder)
                    await db.commit()
            except Exception:
                log.warning("could not release the scheduler lease", exc_info=True)
        self.is_leader = False
        self._io.shutdown(wait=True)

    # --- jobs ----------------------------------------------------------------------------

    async def add_job(self, func: Callable[..., Awaitable[Any]], *, job_id: str, run_date: datetime,
                      args: tuple[Any, ...] = ()) -> None:
        """Add or replace a one-off job in the shared store (any process may; the leader runs it)."""
        aps = self._require()
        await self._in_io(partial(aps.add_job, func, trigger="date", run_date=run_date, args=list(args),
                                  id=job_id, replace_existing=True))

    async def remove_job(self, job_id: str) -> None:
        aps = self._require()

        def remove() -> None:
            try:
                aps.remove_job(job_id)
            except JobLookupError:
                pass

        await self._in_io(remove)

    async def job_ids(self) -> list[str]:
        aps = self._require()
        jobs = await self._in_io(aps.get_jobs)
        return [job.id for job in jobs]

    def _require(self) -> _ThreadedStoreScheduler:
        if self._aps is None or self._aps.state == STATE_STOPPED:
            raise RuntimeError("the scheduler is not running")
        return self._aps

    async def _in_io(self, func: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._io, func)

    # --- the lease -----------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.lease_seconds / 3
        last_renewed = float("-inf")
        while not self._stopping.is_set():
            held = False
            expires_in: float | None = None
            try:
                async with self.sessionmaker() as db:
                    held = await lease_service.acquire(db=db, name=LEASE_NAME, holder=self.holder,
                                                       seconds=self.lease_seconds)
                    if not held:
                        expires_in = await lease_service.seconds_left(db=db, name=LEASE_NAME)
                    await db.commit()
                if held:
                    last_renewed = loop.time()
            except Exception:
                log.warning("scheduler lease renewal failed", exc_info=True)
                # Keep running only while the last renewal still covers us (with a margin).
                held = self.is_leader and loop.time() - last_renewed < self.lease_seconds * 2 / 3
            await self._become(held)
            try:
                await asyncio.wait_for(self._stopping.wait(), next_attempt_in(interval, expires_in))
            except TimeoutError:
                pass

    async def _become(self, leader: bool) -> None:
        aps = self._aps
        if aps is None:
            return
        if leader and not self.is_leader:
            log.info("scheduler %s took the lease: running jobs", self.holder)
            self.is_leader = True
            self._needs_reconcile = True
            aps.resume()
        elif not leader and self.is_leader:
            log.warning("scheduler %s lost the lease: pausing", self.holder)
            self.is_leader = False
            aps.pause()
        if self.is_leader and self._needs_reconcile:
            try:
                for hook in self.on_leader:
                    await hook(self)
                self._needs_reconcile = False
            except Exception:
                log.exception("re-creating jobs after taking the lease failed; retrying")
        if self.is_leader and aps.state == STATE_RUNNING:
            aps.wakeup()  # jobs added by other processes since the last look
        assert aps.state in (STATE_RUNNING, STATE_PAUSED)
