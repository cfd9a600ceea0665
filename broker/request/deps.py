"""Route dependency: settings, the realtime hub (or none) and the dispatcher's wake-up call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.request import realtime
from broker.request.realtime import NullRealtime, Realtime

_NULL = NullRealtime()


@dataclass(frozen=True)
class Live:
    settings: Settings
    realtime: Realtime
    wake: Callable[[], None] | None

    async def commit(self, db: AsyncSession) -> None:
        """Commit the action, then publish its events and wake the dispatcher if needed."""
        await realtime.commit(db, self.realtime, self.wake)


def live(request: Request) -> Live:
    state = request.app.state
    dispatcher = getattr(state, "dispatcher", None)
    return Live(settings=state.settings, realtime=getattr(state, "hub", None) or _NULL,
                wake=dispatcher.wake if dispatcher is not None else None)


LiveDep = Annotated[Live, Depends(live)]
