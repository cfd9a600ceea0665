"""The daily retention job on the product's scheduler (one active process, database lease).

The scheduler only knows one-off jobs, so the job re-adds itself for the next day; the
leader hook adds it when missing (first start, or lost in a crash) — a late run, never none.
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, datetime, time, timedelta
from typing import Any

from broker.database import utcnow
from broker.live.runtime import Runtime
from broker.retention import service as retention_service
from broker.scheduler.runner import Scheduler, current_runtime

log = logging.getLogger(__name__)
JOB_ID = "retention-daily"
RUN_AT = time(2, 15, tzinfo=UTC)  # before office hours, after the nightly backup window starts
_SCHEDULERS: dict[int, weakref.ref[Scheduler]] = {}


def next_run(now: datetime) -> datetime:
    today = datetime.combine(now.date(), RUN_AT)
    return today if today > now else today + timedelta(days=1)


async def run_retention() -> dict[str, Any]:
    """The job: purge, commit, log counts (never contents), schedule tomorrow's run."""
    runtime = current_runtime()
    try:
        async with runtime.sessionmaker() as db:
            report = await retention_service.purge(
                db=db, days=runtime.settings.retention_days,
                login_window_seconds=runtime.settings.login_window_seconds)
            await db.commit()
        log.info("retention removed %d items older than %s", report.total, report.cutoff.isoformat(),
                 extra={"job": JOB_ID, "deleted": report.as_log()})
        return report.as_log()
    finally:
        ref = _SCHEDULERS.get(id(runtime))
        scheduler = ref() if ref is not None else None
        if scheduler is not None:
            await scheduler.add_job(run_retention, job_id=JOB_ID, run_date=next_run(utcnow()))


async def ensure_job(scheduler: Scheduler) -> None:
    """Leader hook: add the daily job unless it is already in the shared store."""
    if JOB_ID not in await scheduler.job_ids():
        await scheduler.add_job(run_retention, job_id=JOB_ID, run_date=next_run(utcnow()))


def register(scheduler: Scheduler) -> None:
    _SCHEDULERS[id(scheduler.runtime)] = weakref.ref(scheduler)
    scheduler.add_leader_hook(ensure_job)


async def start(runtime: Runtime) -> None:
    """Register the daily job on this process's scheduler (when it runs one)."""
    if runtime.scheduler is not None:
        register(runtime.scheduler)


async def stop(_runtime: Runtime) -> None:
    return None
