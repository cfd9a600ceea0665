"""The booking journey in the browser: book a free slot, the interpreter confirms, both join at start."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking import service as booking_service
from broker.booking.slots import MIN_MINUTES
from tests.booking.conftest import (  # noqa: F401  (fixtures)
    calendar_without_holidays_near_now,
    interpreters,
)
from tests.conftest import LOADED_MACHINE_TIMEOUT, World
from tests.web.conftest import Web, ready
from tests.web.helpers import inbound_growth, open_booking_for_arabic, remote_video_playing

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_book_confirm_and_both_join_when_the_room_opens(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A booked Arabic slot is confirmed on the console; when its room opens both pages join and talk."""
    interpreter_id = world.users["interpreter"].id
    windows = [{"weekday": d, "start_time": str(time(0, 0)), "end_time": str(time(23, 59))} for d in range(7)]
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=web.server.url) as api:
        response = await api.put(f"/api/interpreters/{interpreter_id}/availability", json={"windows": windows},
                                 headers=world.auth("interpreter"))
        assert response.status_code == 200, response.text

    counter = await web.person("caseworker_a")
    interpreter = await web.person("interpreter")
    page = counter.page
    await open_booking_for_arabic(page, web.url("/counter.html"))
    slot = page.locator("#booking-slots button").first
    await slot.wait_for()
    await slot.click()
    await page.get_by_role("button", name="Termin verbindlich buchen").click()
    done = page.locator("#booking-status")
    await done.get_by_text("gebucht:").wait_for()
    booking_id = int(await page.evaluate("document.body.dataset.booking"))
    # The confirmation names the reference, the end time, the purpose and the interpreter.
    text = await done.inner_text()
    assert f"Termin Nr. {booking_id} gebucht" in text and "Aufenthaltstitel" in text and "Interpreter" in text
    assert text.count(":") >= 3, text  # start and end time, e.g. "09:15–09:45"

    await interpreter.page.goto(web.url("/interpreter.html"))
    await ready(interpreter.page, "loaded")
    await interpreter.page.get_by_role("button", name="Bestätigen:").first.click()
    await interpreter.page.get_by_text("Termin bestätigt.").wait_for()
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    await interpreter.page.wait_for_function("window.__vd.signal.state === 'open'")

    # The scheduler's room-open job, run now instead of ten minutes before the start.
    async with web.server.app.state.runtime.sessionmaker() as db:  # its commit publishes to the hub
        booking = await booking_service.get(db=db, booking_id=booking_id, for_update=True)
        assert booking is not None
        assert await booking_service.open_room(db=db, booking=booking, settings=web.server.app.state.settings)
        await db.commit()

    for person in (counter, interpreter):
        await remote_video_playing(person.page)
        growth = await inbound_growth(person.page)
        assert growth["framesDecoded"] > 0, growth


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_confirming_inside_the_room_window_opens_the_room_and_both_connect(web: Web, world: World) -> None:
    """A booking five minutes ahead, confirmed on the console: no job needed, both pages join and see video."""
    interpreter_id = world.users["interpreter"].id
    counter = await web.person("caseworker_a")
    interpreter = await web.person("interpreter")
    windows = [{"weekday": d, "start_time": "00:00", "end_time": "23:59"} for d in range(7)]
    response = await interpreter.context.request.put(web.url(f"/api/interpreters/{interpreter_id}/availability"),
                                                     data={"windows": windows})
    assert response.ok, await response.text()
    await counter.page.goto(web.url("/counter.html"))
    await ready(counter.page, "loaded")
    await counter.page.wait_for_function("window.__vd.signal.state === 'open'")
    start = datetime.now(UTC) + timedelta(minutes=5)
    created = await counter.context.request.post(web.url("/api/bookings"), data={
        "language_code": "ar", "purpose": "residence_permit", "start": start.isoformat(), "duration_minutes": 30,
        "interpreter_id": interpreter_id})
    assert created.ok, await created.text()

    await interpreter.page.goto(web.url("/interpreter.html"))
    await ready(interpreter.page, "loaded")
    await interpreter.page.wait_for_function("window.__vd.signal.state === 'open'")
    row = interpreter.page.locator(f"[data-booking='{(await created.json())['id']}']")
    await row.get_by_text("zugeteilt – bitte bestätigen").wait_for()
    await row.get_by_role("button", name="Bestätigen:").click()

    for person in (counter, interpreter):
        await person.page.wait_for_function("document.body.dataset.view === 'call'")
        await remote_video_playing(person.page)
        growth = await inbound_growth(person.page)
        assert growth["framesDecoded"] > 0, growth


VALID = "(field, value) => { field.value = value; return field.validity.valid; }"


async def test_duration_field_and_its_messages_state_the_servers_rule(
    web: Web, interpreters: World,  # noqa: F811
) -> None:
    """The field allows what the server allows (at least MIN_MINUTES, whole minutes, at most the
    setting), its hint says so, 0 is refused with that minimum in words, and 7 minutes finds times."""
    maximum = web.server.app.state.settings.booking_max_minutes
    page = (await web.person("caseworker_a")).page
    await open_booking_for_arabic(page, web.url("/counter.html"))
    field = page.get_by_label("Dauer (Minuten)")
    rule = [await field.get_attribute(name) for name in ("min", "max", "step")]
    assert rule == [str(MIN_MINUTES), str(maximum), "1"]
    await page.locator("#booking-duration-hint").get_by_text(f"{MIN_MINUTES} bis {maximum} Minuten").wait_for()
    tried = (MIN_MINUTES - 1, MIN_MINUTES, 7, maximum, maximum + 1)
    accepted = {minutes: await field.evaluate(VALID, str(minutes)) for minutes in tried}
    assert accepted == {MIN_MINUTES - 1: False, MIN_MINUTES: True, 7: True, maximum: True, maximum + 1: False}

    status = page.locator("#booking-status")
    await field.fill("0")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await status.get_by_text(f"Bitte eine Dauer angeben: mindestens {MIN_MINUTES} Minuten.").wait_for()
    await field.fill(str(maximum + 1))
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await status.get_by_text(f"Ein Termin dauert höchstens {maximum} Minuten.").wait_for()
    await field.fill("7")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await page.locator("#booking-slots button").first.wait_for()
    assert "error" not in (await status.get_attribute("class") or "")
