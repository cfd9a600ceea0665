"""Start and stop the process's scheduler from the app's lifespan.

Areas register their own jobs in their `scheduled.py` (`start(runtime)`, after this one);
a hook added after the lease was taken still runs (`Scheduler.add_leader_hook`).
"""

from __future__ import annotations

import logging

from broker.live.runtime import Runtime
from broker.scheduler.runner import Scheduler

log = logging.getLogger(__name__)


async def start(runtime: Runtime) -> None:
    """Start this process's (paused) scheduler and its lease loop, unless disabled in settings."""
    settings = runtime.settings
    if not settings.scheduler_enabled:
        log.info("scheduler disabled (VD_SCHEDULER_ENABLED=false): timed jobs run elsewhere")
        return
    scheduler = Scheduler(settings=settings, sessionmaker=runtime.sessionmaker, outlet=runtime)
    await scheduler.start()
    runtime.scheduler = scheduler


async def stop(runtime: Runtime) -> None:
    """Stop running jobs and hand the lease on at once."""
    if runtime.scheduler is not None:
        await runtime.scheduler.stop()
        runtime.scheduler = None
