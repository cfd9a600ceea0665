"""Other areas' events become outbox rows: booking events per recipient, unfilled, callback ready."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import RequestMode, RequestStatus
from broker.notification import hooks
from broker.notification.models import OutboxMessage
from broker.request.models import InterpretingRequest
from tests.conftest import World
from tests.notification.conftest import START, booking


@dataclass(frozen=True)
class Event:
    kind: str
    recipients: tuple[int, ...]
    payload: dict[str, Any]
    dedupe_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    calendar: frozenset[int] = frozenset()


async def rows(db: AsyncSession) -> list[OutboxMessage]:
    return list((await db.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_booking_event_gives_one_row_per_recipient(db: AsyncSession, world: World) -> None:
    """A confirmed booking for caseworker and interpreter writes two rows; realtime-only kinds none."""
    recipients = (world.users["caseworker_a"].id, world.users["interpreter"].id)
    payload = {**booking(world), "start": START, "end": START + timedelta(hours=1)}
    confirmed = Event("booking_confirmed", recipients, payload, calendar=frozenset(recipients[1:]))
    await hooks.on_booking_event(db, confirmed)
    await hooks.on_booking_event(db, Event("booking_room_open", recipients, payload))
    await db.commit()
    found = await rows(db)
    assert [(r.kind, r.user_id) for r in found] == [("booking_confirmed", u) for u in recipients]
    assert json.loads(found[0].payload)["start"] == "2026-03-02T09:00:00Z"
    # Only a recipient whose calendar holds the booking gets the .ics.
    assert [json.loads(r.payload)["calendar"] for r in found] == [False, True]


async def test_repeated_reminder_job_notifies_each_recipient_once(db: AsyncSession, world: World) -> None:
    """A reminder event emitted twice with the job's dedupe key leaves one row per recipient."""
    recipients = (world.users["caseworker_a"].id, world.users["interpreter"].id)
    event = Event("reminder_due", recipients, booking(world), dedupe_key="booking:7:reminder_24h")
    for _ in range(2):
        await hooks.on_booking_event(db, event)
        await db.commit()
    assert sorted(r.user_id for r in await rows(db)) == sorted(recipients)


async def test_unfilled_and_callback_ready_reach_the_caseworker(db: AsyncSession, world: World) -> None:
    """An unfilled request notifies its caseworker once with the wait; a ready callback notifies too."""
    caseworker = world.users["caseworker_a"]
    request = InterpretingRequest(office_id=world.office_a.id, caseworker_id=caseworker.id, language_code="ar",
                                  purpose="other", mode=RequestMode.ON_DEMAND, status=RequestStatus.UNFILLED,
                                  created_at=START)
    db.add(request)
    await db.flush()
    await hooks.request_unfilled(db, request, START + timedelta(seconds=181))
    await hooks.request_unfilled(db, request, START + timedelta(seconds=182))
    await hooks.callback_ready(db, request)
    await db.commit()
    found = await rows(db)
    assert [(r.kind, r.user_id) for r in found] == [("request_unfilled", caseworker.id),
                                                    ("callback_ready", caseworker.id)]
    assert json.loads(found[0].payload)["waited_seconds"] == 181
