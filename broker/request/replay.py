"""The replay on reconnect: what a (re)connecting socket must hear to catch up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.call import service as call_service
from broker.live.effects import Realtime
from broker.request import dispatch, lifecycle, offers
from broker.request.models import InterpretingRequest


def make_current_state(sessionmaker: async_sessionmaker[AsyncSession], rt: Realtime) -> Any:
    """The events a (re)connecting socket needs: pending offers, waiting requests, calls to rejoin."""

    async def current_state(user_id: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with sessionmaker() as db:
            for offer, request, kind, escalated in await offers.pending_for(db=db, interpreter_id=user_id):
                events.append(dispatch.offer_event(offer, request, kind, escalated_booking=escalated))
            stmt = select(InterpretingRequest).where(
                (InterpretingRequest.caseworker_id == user_id) | (InterpretingRequest.interpreter_id == user_id),
                InterpretingRequest.status.in_(lifecycle.LIVE))
            for request in (await db.execute(stmt)).scalars():
                events.append(dispatch.status_event(request))
                call = await call_service.joinable(db=db, request=request)
                if call is not None:
                    events.append(call_service.join_for(rt, user_id=user_id, request=request, call=call))
            await db.rollback()
        return events

    return current_state
