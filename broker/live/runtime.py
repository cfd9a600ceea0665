"""The process's runtime: one typed object built in the app's lifespan instead of a bag on
`app.state`. Areas with background work get it in `start(runtime)` and put their part on it.

The runtime is also the outlet of every session it makes (`broker.live.unit`): committed
effects go to `runtime.realtime` (the signalling hub, once started) and wake the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.database import make_sessionmaker
from broker.live.effects import NullRealtime, Realtime

if TYPE_CHECKING:  # the runtime holds the areas' parts; it never imports the areas themselves
    from broker.booking.scheduled import BookingJobs
    from broker.interpreter.liveness import Liveness
    from broker.notification.sender import OutboxSender
    from broker.ops.runtime import Ops
    from broker.request.scheduled import Dispatcher
    from broker.scheduler.runner import Scheduler
    from signaling.hub import Hub


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    ops: Ops
    sessionmaker: async_sessionmaker[AsyncSession] = field(init=False)
    realtime: Realtime = field(default_factory=NullRealtime)  # the hub once it started
    hub: Hub | None = None
    dispatcher: Dispatcher | None = None
    scheduler: Scheduler | None = None  # None: background work is off in this process
    booking_jobs: BookingJobs | None = None
    outbox: OutboxSender | None = None
    liveness: Liveness | None = None  # several instances only

    def __post_init__(self) -> None:
        self.sessionmaker = make_sessionmaker(self.engine, outlet=self)

    def wake(self) -> None:
        """Something became available: the dispatcher looks at the queue now."""
        if self.dispatcher is not None:
            self.dispatcher.wake()
