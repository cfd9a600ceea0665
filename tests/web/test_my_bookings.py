"""What the caseworker and the interpreter see of their bookings: "Meine Termine" with names and a
cancel that says whether it is late, 'nobody found' with the three ways on, the form's reasons,
and the interpreter's list with correct labels."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Route

from tests.booking.conftest import (  # noqa: F401  (fixtures)
    at,
    booking_body,
    calendar_without_holidays_near_now,
    interpreters,
    within_a_day,
    working_day,
)
from tests.conftest import World
from tests.waiting import eventually
from tests.web.conftest import Web, axe_check, ready
from tests.web.helpers import open_booking_for_arabic

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_my_bookings_lists_names_and_cancel_says_it_is_late(
    web: Web, interpreters: World, artifacts_dir: Path,  # noqa: F811
) -> None:
    """A booking two hours ahead shows language, purpose, interpreter, start and end; cancelling warns 'late'."""
    world = interpreters
    counter = await web.person("caseworker_a")
    soon = within_a_day(hours=2, minutes=45)
    created = await counter.context.request.post(web.url("/api/bookings"), data=booking_body(
        soon, 45, interpreter_id=world.users["interpreter_2"].id))
    assert created.ok, await created.text()
    booking_id = (await created.json())["id"]
    page = counter.page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    mine = page.get_by_role("region", name="Meine Termine")
    row = mine.locator(f"tr[data-booking='{booking_id}']")
    await row.wait_for()
    text = await row.inner_text()
    for expected in ("Arabisch", "Aufenthaltstitel", "Interpreter_2", "wartet auf Bestätigung"):
        assert expected in text, text
    assert await row.is_visible()
    assert await axe_check(page, "counter-my-bookings", artifacts_dir) == []

    await row.get_by_role("button", name="Absagen").click()
    dialog = page.get_by_role("dialog", name="Termin absagen?")
    await dialog.wait_for()
    assert "weniger als 24 Stunden vorher" in await dialog.inner_text()
    assert await page.evaluate("document.activeElement.id") == "mybookings-confirm-no"
    await dialog.get_by_role("button", name="Ja, absagen").click()
    await mine.get_by_text("Termin abgesagt (als kurzfristig vermerkt).").wait_for()
    await row.get_by_text("kurzfristig abgesagt").wait_for()
    assert "abgesagt" in await row.inner_text()


async def test_nobody_found_offers_another_time_on_demand_or_cancel(web: Web, interpreters: World) -> None:  # noqa: F811
    """After every interpreter declined, the row says nobody was found and 'Andere Zeit buchen' opens the form."""
    world = interpreters
    counter = await web.person("caseworker_a")
    created = await counter.context.request.post(web.url("/api/bookings"), data=booking_body(at(working_day(), 10)))
    booking = await created.json()
    by_id = {u.id: n for n, u in world.users.items()}
    page = counter.page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    while booking["interpreter_id"] is not None:
        person = await web.person(by_id[booking["interpreter_id"]])
        declined = await person.context.request.post(web.url(f"/api/bookings/{booking['id']}/decline"))
        booking = await declined.json()
    # Told on the page at once (the socket), and the row offers the three ways on.
    await page.get_by_text("Für einen Termin wurde niemand gefunden.").wait_for()
    row = page.locator(f"tr[data-booking='{booking['id']}']")
    await row.get_by_text("niemand gefunden", exact=True).wait_for()
    for name in ("Andere Zeit buchen", "Jetzt dolmetschen", "Absagen"):
        assert await row.get_by_role("button", name=name).is_visible()
    await row.get_by_role("button", name="Andere Zeit buchen").click()
    await page.get_by_role("heading", name="Termin buchen").wait_for()
    assert "Arabisch" in await page.locator("#booking-summary").inner_text()


async def test_booking_form_shows_the_servers_reason_and_starts_on_a_working_day(
    web: Web, interpreters: World,  # noqa: F811
) -> None:
    """A holiday names Weltkindertag in German; 0 minutes asks for a duration; the default day is Monday to Friday."""
    page = (await web.person("caseworker_a")).page
    await open_booking_for_arabic(page, web.url("/counter.html"))
    default = await page.get_by_label("Tag", exact=True).input_value()
    assert datetime.fromisoformat(default).weekday() < 5
    status = page.locator("#booking-status")
    await page.get_by_label("Tag", exact=True).fill("2027-09-20")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await status.get_by_text("Feiertag in Thüringen (Weltkindertag)").wait_for()
    await page.get_by_label("Tag", exact=True).fill(default)
    await page.get_by_label("Dauer (Minuten)").fill("0")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await status.get_by_text("Bitte eine Dauer angeben").wait_for()
    await page.get_by_label("Dauer (Minuten)").fill("600")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await status.get_by_text("höchstens 240 Minuten").wait_for()
    await page.get_by_label("Dauer (Minuten)").fill("30")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    await page.locator("#booking-slots button").first.wait_for()
    # Interpreters available all day: quarter hours outside office hours are offered too.
    starts = await page.locator("#booking-slots button").all_inner_texts()
    assert "07:15" in starts and "17:45" in starts, starts


async def test_a_late_answer_for_the_default_day_does_not_replace_the_typed_days_answer(
    web: Web, interpreters: World,  # noqa: F811
) -> None:
    """Opening the form searches the default day at once; held back in the network until the typed
    holiday's answer is shown, that older answer arrives and changes nothing the person sees."""
    page = (await web.person("caseworker_a")).page
    release = asyncio.Event()
    held: list[Route] = []

    async def hold_the_first_search(route: Route) -> None:
        if held:
            await route.continue_()
            return
        held.append(route)
        await release.wait()
        await route.continue_()

    await page.route("**/api/bookings/slots?*", hold_the_first_search)
    await open_booking_for_arabic(page, web.url("/counter.html"))
    await eventually(lambda: held, message="the form did not search the default day")
    await page.get_by_label("Tag", exact=True).fill("2027-09-20")
    await page.get_by_role("button", name="Freie Zeiten suchen").click()
    status = page.locator("#booking-status")
    await status.get_by_text("Feiertag in Thüringen (Weltkindertag)").wait_for()
    async with page.expect_response("**/api/bookings/slots?*") as late:
        release.set()
    answer = await late.value
    assert answer.ok  # the default day has free times; the page must not show them now
    await answer.finished()
    await page.evaluate("new Promise((done) => setTimeout(done, 50))")  # the page's handler has run
    assert "Weltkindertag" in await status.inner_text()
    assert await page.locator("#booking-slots button").count() == 0


async def test_interpreter_sees_confirmed_as_confirmed_with_names(web: Web, interpreters: World) -> None:  # noqa: F811
    """A confirmed booking reads 'bestätigt' without Bestätigen/Ablehnen; lines name language, office and purpose."""
    world = interpreters
    caseworker = await web.person("caseworker_a")
    interpreter = await web.person("interpreter")
    ids = []
    for hour in (9, 11):
        created = await caseworker.context.request.post(web.url("/api/bookings"), data=booking_body(
            at(working_day(), hour), interpreter_id=world.users["interpreter"].id))
        ids.append((await created.json())["id"])
    confirmed = await interpreter.context.request.post(web.url(f"/api/bookings/{ids[0]}/confirm"))
    assert confirmed.ok
    page = interpreter.page
    await page.goto(web.url("/interpreter.html"))
    await ready(page, "loaded")
    done, waiting = page.locator(f"[data-booking='{ids[0]}']"), page.locator(f"[data-booking='{ids[1]}']")
    await done.wait_for()
    text = await done.inner_text()
    for expected in ("bestätigt", "Arabisch", "Ausländerbehörde Erfurt", "Aufenthaltstitel"):
        assert expected in text, text
    assert "bitte bestätigen" not in text
    assert await done.get_by_role("button", name="Bestätigen:").count() == 0
    assert await done.get_by_role("button", name="Absagen:").count() == 1
    assert "zugeteilt – bitte bestätigen" in await waiting.inner_text()
    assert await waiting.get_by_role("button", name="Bestätigen:").count() == 1


async def test_on_a_phone_my_bookings_scrolls_inside_its_box_and_the_page_never_sideways(
    web: Web, interpreters: World, artifacts_dir: Path,  # noqa: F811
) -> None:
    """At 390×844 the seven columns are wider than the screen: the page itself does not scroll
    sideways, the heading and the first column ('Beginn') are on screen, and the table scrolls in its
    own labelled box, which the keyboard reaches, until the row's 'Absagen' is on screen too."""
    counter = await web.person("caseworker_a")
    created = await counter.context.request.post(web.url("/api/bookings"), data=booking_body(at(working_day(), 10)))
    assert created.ok, await created.text()
    booking_id = (await created.json())["id"]
    page = counter.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    mine = page.get_by_role("region", name="Meine Termine")
    row = mine.locator(f"tr[data-booking='{booking_id}']")
    await row.wait_for()
    await mine.get_by_role("heading", name="Meine Termine").scroll_into_view_if_needed()

    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths[0]} px content in a {widths[1]} px window"
    assert await page.evaluate("window.scrollX") == 0
    for visible in (mine.get_by_role("heading", name="Meine Termine"),
                    mine.get_by_role("columnheader", name="Beginn"), row.locator("td").first):
        assert await visible.is_visible()
        box = await visible.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box

    table_box = mine.get_by_role("region", name="Termine (Tabelle)")
    assert await table_box.get_attribute("tabindex") == "0"  # arrow keys scroll it
    cancel = row.get_by_role("button", name="Absagen")
    await table_box.evaluate("(box) => { box.scrollLeft = box.scrollWidth; }")
    box = await cancel.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, box
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert await axe_check(page, "counter-my-bookings-phone", artifacts_dir) == []
