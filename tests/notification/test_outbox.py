"""The transactional outbox, preferences and the e-mail address check at entry."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from broker.notification.models import OutboxMessage
from tests.conftest import World
from tests.notification.conftest import booking


async def count(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_enqueue_is_part_of_the_callers_transaction(db: AsyncSession, world: World) -> None:
    """A rolled-back event leaves no notification; a committed one leaves exactly one row."""
    user_id, payload = world.users["interpreter"].id, booking(world)
    await notification_service.enqueue(db=db, user_id=user_id, kind=Kind.BOOKING_ASSIGNED, payload=payload)
    await db.rollback()
    assert await count(db) == 0
    row_id = await notification_service.enqueue(db=db, user_id=user_id, kind="booking_assigned",
                                                payload=payload)
    await db.commit()
    assert row_id is not None and await count(db) == 1
    row = await db.get(OutboxMessage, row_id)
    assert row is not None and row.status == "pending" and row.attempts == 0


async def test_no_row_for_a_user_who_opted_out(db: AsyncSession, world: World) -> None:
    """A user who switched a kind off gets no outbox row for it; other kinds still come."""
    user = world.users["caseworker_a"]
    await notification_service.set_preferences(db=db, user=user, choices={Kind.BOOKING_CONFIRMED: False})
    await db.commit()
    skipped = await notification_service.enqueue(db=db, user_id=user.id, kind=Kind.BOOKING_CONFIRMED,
                                                 payload=booking(world))
    kept = await notification_service.enqueue(db=db, user_id=user.id, kind=Kind.BOOKING_CANCELLED,
                                              payload=booking(world))
    await db.commit()
    assert skipped is None and kept is not None and await count(db) == 1


async def test_dedupe_key_enqueues_once(db: AsyncSession, world: World) -> None:
    """The same event enqueued twice with one dedupe key (a job that ran twice) gives one row."""
    user_id = world.users["interpreter"].id
    first = await notification_service.enqueue(db=db, user_id=user_id, kind=Kind.REMINDER_DUE,
                                               payload=booking(world), dedupe_key="reminder:7:24h")
    await db.commit()
    again = await notification_service.enqueue(db=db, user_id=user_id, kind=Kind.REMINDER_DUE,
                                               payload=booking(world), dedupe_key="reminder:7:24h")
    await db.commit()
    assert first is not None and again is None and await count(db) == 1


@pytest.mark.parametrize("bad", [{"client_name": "Jane Doe"}, {"end": "2026-03-02T08:00:00+00:00"},
                                 {"start": "2026-03-02T09:00:00"}])
async def test_payload_schema_refuses_extra_or_wrong_facts(db: AsyncSession, world: World,
                                                           bad: dict[str, str]) -> None:
    """A payload with personal data, a reversed slot or a naive time is refused before it is stored."""
    with pytest.raises(ValidationError):
        await notification_service.enqueue(db=db, user_id=world.users["interpreter"].id,
                                           kind=Kind.BOOKING_ASSIGNED, payload={**booking(world), **bad})


async def test_unknown_kind_is_refused(db: AsyncSession, world: World) -> None:
    """Enqueueing a kind that does not exist is a programming error (ValueError)."""
    with pytest.raises(ValueError):
        await notification_service.enqueue(db=db, user_id=world.users["interpreter"].id,
                                           kind="booking_teleported", payload=booking(world))


async def test_preferences_api_lists_role_kinds_and_stores_choices(client: httpx.AsyncClient, world: World) -> None:
    """A caseworker sees the kinds meant for caseworkers, all on by default, and can switch one off."""
    headers = world.auth("caseworker_a")
    response = await client.get("/api/notifications/preferences", headers=headers)
    assert response.status_code == 200, response.text
    items = {i["kind"]: i["email"] for i in response.json()["items"]}
    assert "callback_ready" in items and "booking_assigned" not in items and all(items.values())
    response = await client.put("/api/notifications/preferences", headers=headers,
                                json={"items": [{"kind": "request_unfilled", "email": False}]})
    assert response.status_code == 200, response.text
    items = {i["kind"]: i["email"] for i in response.json()["items"]}
    assert items["request_unfilled"] is False and items["callback_ready"] is True
    again = await client.get("/api/notifications/preferences", headers=headers)
    assert {i["kind"]: i["email"] for i in again.json()["items"]} == items


async def test_preferences_refuse_unknown_or_foreign_kinds(client: httpx.AsyncClient, world: World) -> None:
    """An unknown kind or one not meant for the user's role is refused with 422."""
    headers = world.auth("caseworker_a")
    for kind in ("booking_teleported", "booking_assigned"):
        response = await client.put("/api/notifications/preferences", headers=headers,
                                    json={"items": [{"kind": kind, "email": False}]})
        assert response.status_code == 422, response.text
    assert (await client.get("/api/notifications/preferences")).status_code == 401


async def test_invalid_email_is_refused_at_entry(client: httpx.AsyncClient, world: World) -> None:
    """Creating or changing a user with an invalid e-mail address answers 422; a valid one is kept."""
    headers = world.auth("admin")
    body = {"username": "neu.dolmetscher", "display_name": "Neu", "role": "interpreter",
            "password": "long-enough-password", "email": "not an address"}
    assert (await client.post("/api/users", headers=headers, json=body)).status_code == 422
    body["email"] = "neu@example.org"
    created = await client.post("/api/users", headers=headers, json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    for bad in ("a@", "@example.org", "two@@example.org", "spaces in@example.org"):
        response = await client.patch(f"/api/users/{user_id}", headers=headers, json={"email": bad})
        assert response.status_code == 422, bad
    assert (await client.get(f"/api/users/{user_id}", headers=headers)).json()["email"] == "neu@example.org"
