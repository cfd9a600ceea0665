"""axe-core and screenshots for views the journeys pass through quickly: booking form, admin in English."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LOADED_MACHINE_TIMEOUT, World
from tests.web.conftest import Web, axe_check, ready
from tests.web.helpers import open_booking_for_arabic

pytestmark = pytest.mark.browser


async def test_booking_form_with_slots_and_proposals_passes_axe_in_german_and_english(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """The booking form, its slots and the interpreter choice pass axe and redraw in English on the switch."""
    interpreter_id = world.users["interpreter"].id
    windows = [{"weekday": d, "start_time": str(time(0, 0)), "end_time": str(time(23, 59))} for d in range(7)]
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=web.server.url) as api:
        response = await api.put(f"/api/interpreters/{interpreter_id}/availability", json={"windows": windows},
                                 headers=world.auth("interpreter"))
        assert response.status_code == 200, response.text

    page = (await web.person("caseworker_a")).page
    await open_booking_for_arabic(page, web.url("/counter.html"))
    slot = page.locator("#booking-slots button").first
    await slot.wait_for()
    assert await axe_check(page, "booking-slots", artifacts_dir) == []
    await slot.click()
    await page.get_by_role("button", name="Termin verbindlich buchen").wait_for()
    assert await slot.get_attribute("aria-pressed") == "true"  # the chosen time stays marked
    # The proposal tells people apart: qualification, languages and user name.
    german = "Interpreter (zertifiziert; Sprachen: Arabisch, Persisch; Kennung interpreter)"
    await page.get_by_role("radio", name=german).check()
    assert await axe_check(page, "booking-proposals", artifacts_dir) == []

    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Book an appointment").wait_for()
    assert await page.evaluate("document.documentElement.lang") == "en"
    # Everything drawn by the module follows the switch too, and the choice made stays made.
    await page.get_by_text("Language: Arabic").wait_for()
    await page.get_by_role("button", name="Book this appointment").wait_for()
    await page.get_by_text("free times found.").wait_for()
    english = "Interpreter (certified; languages: Arabic, Persian; user name interpreter)"
    assert await page.get_by_role("radio", name=english).is_checked()
    assert await page.get_by_role("radio", name="assign automatically").count() == 1
    assert await axe_check(page, "booking-proposals-en", artifacts_dir) == []


async def test_admin_pages_in_english_pass_axe(web: Web, world: World, artifacts_dir: Path) -> None:
    """Every admin section, the qualification form and the delivery page pass axe with the English catalog."""
    page = (await web.person("admin", locale="en-GB")).page
    await page.goto(web.url("/admin.html#offices"))
    await ready(page, "loaded")
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Administration", exact=True).wait_for()
    for section in ("offices", "users", "languages", "interpreters"):
        await page.goto(web.url(f"/admin.html#{section}"))
        await page.locator(f"#{section}").wait_for()
        assert await page.evaluate("document.documentElement.lang") == "en"
        assert await axe_check(page, f"admin-{section}-en", artifacts_dir) == []
    await page.get_by_role("button", name="Edit: Interpreter").click()
    await page.locator("#qual-form").wait_for()
    assert await axe_check(page, "admin-qualifications-en", artifacts_dir) == []

    await page.get_by_role("link", name="E-mail delivery").click()
    await ready(page, "loaded")
    await page.get_by_role("heading", name="E-mail delivery", level=1).wait_for()
    await page.get_by_text("No messages for this selection.").wait_for()
    assert await axe_check(page, "outbox-empty-en", artifacts_dir) == []
    await page.get_by_role("link", name="Notifications").click()
    await ready(page, "loaded")
    await page.get_by_role("checkbox", name="Booking without an interpreter").wait_for()
    assert await axe_check(page, "preferences-admin-en", artifacts_dir) == []
