"""The interpreter's iCalendar feed behind a rotatable secret token."""

from __future__ import annotations

import httpx
from icalendar import Calendar

from tests.booking.conftest import at, booking_body, working_day
from tests.conftest import World


async def test_feed_parses_and_rotation_invalidates_old_url(client: httpx.AsyncClient, interpreters: World) -> None:
    """The feed lists the interpreter's bookings as VEVENTs; a new token makes the old URL a 404."""
    world = interpreters
    target = world.users["interpreter_2"]
    start = at(working_day(), 10)
    booking = (await client.post("/api/bookings", headers=world.auth("caseworker_a"),
                                 json=booking_body(start, 30, interpreter_id=target.id))).json()
    await client.post(f"/api/bookings/{booking['id']}/confirm", headers=world.auth("interpreter_2"))
    link = await client.post("/api/bookings/calendar/token", headers=world.auth("interpreter_2"))
    assert link.status_code == 200
    path = link.json()["url"].split("://", 1)[1].split("/", 1)[1]
    feed = await client.get(f"/{path}")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert len(events) == 1
    assert events[0]["dtstart"].dt == start and str(events[0]["status"]) == "CONFIRMED"
    assert "Arabisch" in str(events[0]["summary"])
    rotated = await client.post("/api/bookings/calendar/token", headers=world.auth("interpreter_2"))
    assert (await client.get(f"/{path}")).status_code == 404
    new_path = rotated.json()["url"].split("://", 1)[1].split("/", 1)[1]
    assert (await client.get(f"/{new_path}")).status_code == 200
    assert (await client.get("/api/bookings/calendar/guess.ics")).status_code == 404
