"""Start and stop the process's scheduler from the app's lifespan, with every area's jobs."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from broker.booking.scheduled import BookingJobs, JobPlan, services_from
from broker.scheduler.runner import Scheduler

log = logging.getLogger(__name__)


async def start_scheduler(app: FastAPI, *, plan: JobPlan | None = None) -> Scheduler | None:
    """Start this process's (paused) scheduler and its lease loop, unless disabled in settings."""
    settings = app.state.settings
    app.state.scheduler = None
    app.state.booking_jobs = None
    if not settings.scheduler_enabled:
        log.info("scheduler disabled (VD_SCHEDULER_ENABLED=false): booking jobs run elsewhere")
        return None
    scheduler = Scheduler(settings=settings, sessionmaker=app.state.sessionmaker, services=services_from(app.state))
    app.state.booking_jobs = BookingJobs(scheduler, plan or JobPlan.from_settings(settings))
    await scheduler.start()
    app.state.scheduler = scheduler
    return scheduler


async def stop_scheduler(app: FastAPI) -> None:
    """Stop running jobs and hand the lease on at once."""
    scheduler: Scheduler | None = getattr(app.state, "scheduler", None)
    if scheduler is not None:
        await scheduler.stop()
        app.state.scheduler = None
