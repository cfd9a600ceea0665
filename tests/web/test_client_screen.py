"""The client screen ("Kundenbildschirm") as the caseworker and the client see it (issue 16 item 8).

It opens in its own window so the counter stays where it was, speaks the client's language
(right to left for Arabic and Persian), keeps a language the client picked there through the
whole call and after it, and offers the caseworker a way back to the counter.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Route, expect

from tests.conftest import World
from tests.waiting import eventually
from tests.web.conftest import Web, ready
from tests.web.helpers import choose_language, in_viewport, interpreter_available, remote_video_playing

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CLIENT = Path(__file__).resolve().parents[2] / "web" / "i18n" / "client"


def catalog(code: str) -> dict[str, Any]:
    return dict(json.loads((CLIENT / f"{code}.json").read_text(encoding="utf-8")))


async def reads(notice: Locator, text: str, lang: str) -> None:
    """The notice shows `text`, tagged `lang`, and is laid out right to left on screen."""
    await expect(notice).to_have_text(text)
    await expect(notice).to_have_attribute("lang", lang)
    assert await notice.evaluate("n => getComputedStyle(n).direction") == "rtl"
    assert await notice.is_visible()


async def test_client_screen_opens_beside_the_counter_speaks_the_clients_language_and_leads_back(
    web: Web, world: World,
) -> None:
    """Opened from the menu it comes up in a new window in Arabic (RTL) while the counter stays;
    Persian picked there holds through the call and after it; "Zurück zum Schalter" closes it."""
    arabic, persian = catalog("ar"), catalog("fa")
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    page = counter.page
    await choose_language(page, web.url("/counter.html"), "arab", "ar")

    async with counter.context.expect_page() as opened:
        await page.get_by_role("navigation").get_by_role("link", name="Kundenbildschirm").click()
    client = await opened.value
    await ready(client)
    # The counter is where it was: same address, the chosen language, the button to ask.
    assert page.url == web.url("/counter.html") and not page.is_closed()
    await expect(page.locator("#lang-chosen")).to_contain_text("Arabisch")
    await expect(page.get_by_role("button", name="Jetzt dolmetschen")).to_be_visible()

    notice = client.locator("#notice")
    await reads(notice, arabic["welcome"], "ar")
    await expect(client.locator("#notice-sub")).to_have_text(arabic["privacy"])
    assert await in_viewport(client, notice)
    # The staff's controls on the client screen stay in the staff's language (German).
    chooser = client.get_by_label("Sprache der Kundin / des Kunden")
    await expect(chooser).to_be_visible()

    await chooser.select_option("fa")
    await reads(notice, persian["welcome"], "fa")

    await page.get_by_role("button", name="Jetzt dolmetschen").click()
    offer = interpreter.page.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.get_by_role("button", name="Annehmen").click()
    await remote_video_playing(page)
    await reads(notice, persian["in_call"], "fa")

    await page.get_by_role("button", name="Gespräch beenden").click()
    await page.get_by_role("heading", name="Wie war das Gespräch?").wait_for()
    await reads(notice, persian["ended"], "fa")  # the client's own choice outlives the call
    await page.get_by_role("button", name="Ohne Bewertung schließen").click()
    await reads(notice, persian["welcome"], "fa")
    await expect(chooser).to_have_value("fa")

    back = client.get_by_role("link", name="Zurück zum Schalter")
    await expect(back).to_be_visible()
    assert await in_viewport(client, back)
    async with client.expect_event("close"):
        # The window may close before Playwright has finished its click (it waits for what the
        # click set off): then the click did what it is for, and the close event proves it.
        try:
            await back.click()
        except PlaywrightError:
            if not client.is_closed():
                raise
    assert client.is_closed() and not page.is_closed()
    await expect(page.get_by_role("button", name="Jetzt dolmetschen")).to_be_visible()
    for person in (counter, interpreter):
        assert [e for e in person.errors if "favicon" not in e] == []


async def test_client_screen_keeps_the_counters_language_when_its_first_english_draw_arrives_last(
    web: Web, world: World,
) -> None:
    """The window first draws English (nothing chosen yet), then the counter's Arabic. With the
    English catalog held back in the network until the counter has answered, the late English draw
    must not put English back over Arabic (seen under load: the client read English for 30 s)."""
    counter = await web.person("caseworker_a")
    page = counter.page
    await choose_language(page, web.url("/counter.html"), "arab", "ar")
    release = asyncio.Event()
    held: list[Route] = []

    async def hold_the_client_windows_first_english(route: Route) -> None:
        if not held and "client.html" in route.request.frame.url:
            held.append(route)
            await release.wait()
        await route.continue_()

    # A listener that only listens, in place before the window's own channel: it sees the
    # counter's answer to the window's hello as the window does, and says nothing itself (a
    # hello of its own would make the window draw once more and hide the race).
    await counter.context.add_init_script(
        "const heard = new BroadcastChannel('vd-client-screen'); window.__told = [];"
        "heard.onmessage = ({ data }) => { if (data.kind === 'state') window.__told.push(data.lang); };"
    )
    await counter.context.route("**/i18n/client/en.json", hold_the_client_windows_first_english)
    async with counter.context.expect_page() as opened:
        await page.get_by_role("navigation").get_by_role("link", name="Kundenbildschirm").click()
    client = await opened.value
    await eventually(lambda: held, message="the client window did not ask for the English catalog")
    await client.wait_for_function("window.__told && window.__told.includes('ar')")
    await client.evaluate("new Promise((done) => setTimeout(done, 100))")  # the window's handler has run
    release.set()
    await ready(client)  # the first (English) draw has finished
    await reads(client.locator("#notice"), catalog("ar")["welcome"], "ar")
    await expect(client.get_by_label("Sprache der Kundin / des Kunden")).to_have_value("ar")
    assert [e for e in counter.errors if "favicon" not in e] == []
