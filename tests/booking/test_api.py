"""The bookings API: book, propose, confirm, decline, cancel, double booking, bad input, visibility."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import availability
from broker.enums import LedgerOutcome, RequestMode, RequestStatus
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from tests.booking.conftest import at, booking_body, within_a_day, working_day
from tests.conftest import World


async def _book(client: httpx.AsyncClient, world: World, body: dict[str, object],
                who: str = "caseworker_a") -> httpx.Response:
    return await client.post("/api/bookings", json=body, headers=world.auth(who))


async def test_book_confirm_and_see_it(client: httpx.AsyncClient, interpreters: World) -> None:
    """A caseworker books, the assigned interpreter confirms, both see the booking; another office does not."""
    world = interpreters
    start = at(working_day(), 10)
    created = await _book(client, world, booking_body(start, 45))
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "requested" and booking["interpreter_id"] is not None
    assert datetime.fromisoformat(booking["end"]) - datetime.fromisoformat(booking["start"]) == timedelta(minutes=45)
    name = next(n for n, u in world.users.items() if u.id == booking["interpreter_id"])
    confirmed = await client.post(f"/api/bookings/{booking['id']}/confirm", headers=world.auth(name))
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "assigned"
    mine = await client.get("/api/bookings", headers=world.auth(name))
    assert [b["id"] for b in mine.json()["items"]] == [booking["id"]]
    office = await client.get(f"/api/bookings/{booking['id']}", headers=world.auth("caseworker_a"))
    assert office.status_code == 200
    other = await client.get(f"/api/bookings/{booking['id']}", headers=world.auth("caseworker_b"))
    assert other.status_code == 404
    assert (await client.get("/api/bookings", headers=world.auth("caseworker_b"))).json()["total"] == 0


async def test_auto_assignment_is_fair_share(client: httpx.AsyncClient, interpreters: World) -> None:
    """Automatic assignment picks the interpreter with the fewest booked minutes this month."""
    world = interpreters
    day = working_day()
    ids = []
    for hour in (8, 10, 12):
        response = await _book(client, world, booking_body(at(day, hour), 90))
        assert response.status_code == 201, response.text
        ids.append(response.json()["interpreter_id"])
    assert len(set(ids)) == 3, "each of the three got one booking"
    # A fourth, longer booking elsewhere in the month makes its interpreter the last choice.
    proposals = await client.get("/api/bookings/proposals", headers=world.auth("caseworker_a"), params={
        "language_code": "ar", "purpose": "other", "start": at(day, 15).isoformat(), "duration_minutes": 30})
    assert proposals.status_code == 200
    assert [p["booked_minutes_this_month"] for p in proposals.json()] == [90, 90, 90]
    busy = ids[0]
    extra = await _book(client, world, booking_body(at(day, 17), 60, interpreter_id=busy))
    assert extra.status_code == 201
    again = await _book(client, world, booking_body(at(day, 19), 30))
    assert again.json()["interpreter_id"] != busy


async def test_proposals_respect_wishes(client: httpx.AsyncClient, interpreters: World) -> None:
    """Gender and qualification wishes narrow the proposals."""
    world = interpreters
    params = {"language_code": "ar", "purpose": "other", "start": at(working_day(), 9).isoformat(),
              "duration_minutes": 30}
    sworn = await client.get("/api/bookings/proposals", headers=world.auth("caseworker_a"),
                             params={**params, "wish_qualification": "sworn"})
    assert [p["interpreter_id"] for p in sworn.json()] == [world.users["interpreter_2"].id]
    male = await client.get("/api/bookings/proposals", headers=world.auth("caseworker_a"),
                            params={**params, "wish_gender": "male"})
    assert [p["interpreter_id"] for p in male.json()] == [world.users["interpreter_3"].id]


async def test_decline_reassigns_and_then_unassigns(client: httpx.AsyncClient, interpreters: World) -> None:
    """Each decline passes the booking to the next interpreter; when nobody is left it waits unassigned."""
    world = interpreters
    booking = (await _book(client, world, booking_body(at(working_day(), 11)))).json()
    seen = []
    for _ in range(3):
        current = booking["interpreter_id"]
        assert current is not None and current not in seen
        seen.append(current)
        name = next(n for n, u in world.users.items() if u.id == current)
        response = await client.post(f"/api/bookings/{booking['id']}/decline", headers=world.auth(name))
        assert response.status_code == 200, response.text
        booking = response.json()
    assert booking["interpreter_id"] is None and booking["status"] == "requested"
    # The last decliner can no longer see or confirm it.
    response = await client.post(f"/api/bookings/{booking['id']}/confirm", headers=world.auth(name))
    assert response.status_code == 404


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_cancellation_late_flag_and_ledger(client: httpx.AsyncClient, interpreters: World,
                                                 db: AsyncSession) -> None:
    """A cancellation under 24 h before the start is flagged late; one earlier is not; each writes one ledger row."""
    world = interpreters
    soon = (await _book(client, world, booking_body(within_a_day(hours=3)))).json()
    later = (await _book(client, world, booking_body(at(working_day(10), 10)))).json()
    late = await client.post(f"/api/bookings/{soon['id']}/cancel", headers=world.auth("caseworker_a"))
    early = await client.post(f"/api/bookings/{later['id']}/cancel", headers=world.auth("caseworker_a"))
    assert late.status_code == early.status_code == 200
    assert late.json()["late_cancellation"] is True and late.json()["status"] == "cancelled"
    assert early.json()["late_cancellation"] is False
    rows = (await db.execute(select(LedgerEntry).order_by(LedgerEntry.request_id))).scalars().all()
    assert [(r.request_id, r.outcome, r.late_cancellation) for r in rows] == [
        (soon["id"], LedgerOutcome.CANCELLED, True), (later["id"], LedgerOutcome.CANCELLED, False)]
    await db.rollback()  # SQLite: release the write lock BEGIN IMMEDIATE took for the read
    again = await client.post(f"/api/bookings/{soon['id']}/cancel", headers=world.auth("caseworker_a"))
    assert again.status_code == 409


async def test_interpreter_cancel_reassigns(client: httpx.AsyncClient, interpreters: World) -> None:
    """An interpreter who cancels a confirmed booking withdraws; the booking goes to someone else."""
    world = interpreters
    booking = (await _book(client, world, booking_body(at(working_day(), 14)))).json()
    name = next(n for n, u in world.users.items() if u.id == booking["interpreter_id"])
    await client.post(f"/api/bookings/{booking['id']}/confirm", headers=world.auth(name))
    response = await client.post(f"/api/bookings/{booking['id']}/cancel", headers=world.auth(name))
    assert response.status_code == 200 and response.json()["status"] == "requested"
    assert (await client.get(f"/api/bookings/{booking['id']}", headers=world.auth(name))).status_code == 404
    fresh = await client.get(f"/api/bookings/{booking['id']}", headers=world.auth("caseworker_a"))
    assert fresh.json()["status"] == "requested"
    assert fresh.json()["interpreter_id"] not in (None, booking["interpreter_id"])


async def test_two_concurrent_bookings_for_one_slot(client: httpx.AsyncClient, interpreters: World,
                                                    db: AsyncSession) -> None:
    """Two caseworkers booking the same interpreter for overlapping times at once: one 201, one 409 naming the slot."""
    world = interpreters
    target = world.users["interpreter_2"].id
    start = at(working_day(), 10)
    first, second = await asyncio.gather(
        _book(client, world, booking_body(start, 60, interpreter_id=target)),
        _book(client, world, booking_body(start + timedelta(minutes=30), 60, interpreter_id=target),
              who="caseworker_b"))
    codes = sorted([first.status_code, second.status_code])
    assert codes == [201, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    winner = second if loser is first else first
    body = loser.json()
    assert body["code"] == "double_booking"
    assert datetime.fromisoformat(body["conflict"]["start"]) == datetime.fromisoformat(winner.json()["start"])
    assert "already booked" in body["detail"] and "Europe/Berlin" in body["detail"]
    count = (await db.execute(select(func.count()).select_from(InterpretingRequest))).scalar_one()
    assert count == 1


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_exclusion_constraint_gives_the_same_409(client: httpx.AsyncClient, interpreters: World,
                                                       db: AsyncSession, backend: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the database refuses an overlapping confirmed booking; the API says 409 naming the slot."""
    world = interpreters
    target = world.users["interpreter_2"].id
    start = at(working_day(), 10)
    first = (await _book(client, world, booking_body(start, 60, interpreter_id=target))).json()
    await client.post(f"/api/bookings/{first['id']}/confirm", headers=world.auth("interpreter_2"))

    async def blind_check(**_: object) -> None:
        return None

    monkeypatch.setattr(availability, "check", blind_check)  # pretend the service check missed it
    second = await _book(client, world, booking_body(start, 60, interpreter_id=target), who="caseworker_b")
    assert second.status_code == 201  # proposed only: holds no database constraint yet
    response = await client.post(f"/api/bookings/{second.json()['id']}/confirm", headers=world.auth("interpreter_2"))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "double_booking"
    assert datetime.fromisoformat(response.json()["conflict"]["start"]) == start
    status = (await db.execute(text("SELECT status FROM requests WHERE id = :id"),
                               {"id": second.json()["id"]})).scalar_one()
    assert status == "requested"


@pytest.mark.parametrize("change, code", [
    ({"start": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}, "booking_in_past"),
    ({"duration_minutes": 241}, "booking_too_long"),
    ({"purpose": "astrology"}, "unknown_purpose"),
    ({"language_code": "xx"}, "unknown_language"),
])
async def test_bad_input_gives_422_and_changes_nothing(client: httpx.AsyncClient, interpreters: World,
                                                       unchanged, change: dict[str, object], code: str) -> None:
    """A booking in the past, too long, or with an unknown purpose or language is refused with 422."""
    body = {**booking_body(at(working_day(), 10)), **change}
    async with unchanged():
        response = await _book(client, interpreters, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == code


async def test_other_office_gets_404_and_changes_nothing(client: httpx.AsyncClient, interpreters: World,
                                                         unchanged) -> None:
    """A caseworker of another office can neither see nor cancel a booking: 404, nothing changes."""
    booking = (await _book(client, interpreters, booking_body(at(working_day(), 10)))).json()
    async with unchanged():
        for method, path in (("GET", ""), ("POST", "/cancel")):
            response = await client.request(method, f"/api/bookings/{booking['id']}{path}",
                                            headers=interpreters.auth("caseworker_b"))
            assert response.status_code == 404


async def test_booking_on_a_holiday_is_409_naming_it_in_german(client: httpx.AsyncClient, interpreters: World,
                                                                unchanged) -> None:
    """Booking on a Thuringian holiday is refused with its German name and changes nothing."""
    async with unchanged():
        response = await _book(client, interpreters, booking_body(at(datetime(2027, 10, 31).date(), 10)))
    body = response.json()
    assert response.status_code == 409 and body["code"] == "booking_holiday"
    assert body["holiday"] == {"de": "Reformationstag", "en": "Reformation Day"}


async def test_booking_rows_are_booked_mode(db: AsyncSession, client: httpx.AsyncClient, interpreters: World) -> None:
    """A booking is stored as a request in `booked` mode with its slot."""
    await _book(client, interpreters, booking_body(at(working_day(), 10)))
    row = (await db.execute(select(InterpretingRequest))).scalar_one()
    assert row.mode is RequestMode.BOOKED and row.status is RequestStatus.REQUESTED
