"""The daily screens as their people see them, at a desktop and a phone size (issue 16).

Each test asserts what is on the screen: text, where it sits in the viewport, where focus is,
and that the interpreter console's status line says what the server holds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Page
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.request.models import InterpretingRequest
from tests.conftest import World
from tests.waiting import eventually
from tests.web.conftest import Web, axe_check
from tests.web.helpers import ask_now, interpreter_available, remote_video_playing

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844},
         "laptop": {"width": 1366, "height": 768}, "fullhd": {"width": 1920, "height": 1080}}
WRAP_UP_SECONDS = 4.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A short wrap-up so the test sees it run out (the sweep is driven by hand, see `_sweep`)."""
    return settings.model_copy(update={"wrap_up_seconds": WRAP_UP_SECONDS, "max_wait_seconds": 3.0})


IN_VIEW = """(selector) => {
  const node = document.querySelector(selector);
  if (!node) return `${selector}: missing`;
  const r = node.getBoundingClientRect();
  const inside = r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
    r.bottom <= window.innerHeight + 0.5 && r.right <= window.innerWidth + 0.5;
  const box = [r.left, r.top, r.width, r.height].map(Math.round).join(",");
  return inside ? "" : `${selector}: ${box}`;
}"""


async def outside_viewport(page: Page, selectors: list[str]) -> list[str]:
    return [m for m in [await page.evaluate(IN_VIEW, s) for s in selectors] if m]


async def focused(page: Page) -> str:
    """The focused element as a person would name it: its id, or its tag when it has none."""
    return str(await page.evaluate("document.activeElement.id || document.activeElement.tagName"))


async def server_status(page: Page) -> str:
    return str(await page.evaluate("fetch('/api/interpreter/status').then(r => r.json()).then(j => j.status)"))


async def status_line_matches_server(page: Page, german: str) -> None:
    """The status line reads `Aktuell: <german>` and the server holds the same status."""
    await page.locator("#status-now").filter(has_text=f"Aktuell: {german}").wait_for()
    shown = await page.evaluate("document.body.dataset.status")
    assert shown == await server_status(page), (shown, german)


async def _sweep(web: Web, page: Page, condition: str, timeout: float = 15.0) -> None:
    """Run the dispatcher's round (the scheduler is off in tests) until the page shows `condition`."""
    last = [0.0]

    async def shown() -> bool:
        # A dispatcher round at most every quarter second: the condition is polled more often.
        if time.monotonic() - last[0] >= 0.25:
            last[0] = time.monotonic()
            await web.server.app.state.runtime.dispatcher.run_once(queue=True)
        return bool(await page.evaluate(condition))
    await eventually(shown, timeout=timeout, message=f"not seen within {timeout}s: {condition}")


@pytest.mark.parametrize("size", list(SIZES))
async def test_a_whole_call_as_both_people_see_it(web: Web, world: World, artifacts_dir: Path, size: str) -> None:
    """Status truth through offer, call and wrap-up; every call control in view; focus on a meaningful element."""
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    for person in (interpreter, counter):
        await person.page.set_viewport_size(SIZES[size])
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    await status_line_matches_server(interpreter.page, "verfügbar")
    assert await interpreter.page.get_attribute("#status-available", "aria-pressed") == "true"

    await ask_now(counter.page, web.url("/counter.html"), "arab", "ar")
    offer = interpreter.page.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.wait_for()
    await status_line_matches_server(interpreter.page, "Angebot liegt vor")
    assert await interpreter.page.get_attribute("#status-available", "aria-pressed") == "false"
    # The card leads with the language, big; then one fact a line; focus on the dialog, not on "Annehmen".
    assert (await interpreter.page.locator("#offer-language").inner_text()).startswith("Arabisch")
    big = await interpreter.page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#offer-language')).fontSize)")
    assert big >= 28
    facts = await interpreter.page.locator("#offer-details dt").all_inner_texts()
    assert facts[:4] == ["Stelle", "Anliegen", "Art", "Anlass"]
    tops = await interpreter.page.evaluate(
        "[...document.querySelectorAll('#offer-details dt')].map(n => Math.round(n.getBoundingClientRect().top))")
    assert tops == sorted(tops) and len(set(tops)) == len(tops), tops  # one label a line, no zigzag
    assert await focused(interpreter.page) == "offer"
    await interpreter.page.keyboard.press("Tab")
    await interpreter.page.keyboard.press("Tab")
    await interpreter.page.keyboard.press("Tab")
    assert await focused(interpreter.page) in ("offer-accept", "offer-decline")  # Tab stays in the dialog
    assert await axe_check(interpreter.page, f"screens-{size}-interpreter-offer", artifacts_dir) == []
    await offer.get_by_role("button", name="Annehmen").click()

    await status_line_matches_server(interpreter.page, "im Einsatz")
    for person in (counter, interpreter):
        await remote_video_playing(person.page)
        assert await focused(person.page) == "call-h"
        controls = ["#call-h", "#call-mute", "#call-camera", "#call-end", "video.remote-video", "#local-video"]
        assert await outside_viewport(person.page, controls) == [], size
        # The remote picture scales to the space: on a desktop screen it takes most of the height.
        if size != "phone":
            share = await person.page.evaluate(
                "document.querySelector('video.remote-video').getBoundingClientRect().height / innerHeight")
            assert share >= 0.5, (size, share)
    assert await axe_check(counter.page, f"screens-{size}-counter-call", artifacts_dir) == []

    mute = counter.page.locator("#call-mute")
    await mute.click()
    assert await mute.get_attribute("aria-pressed") == "true"
    assert await mute.inner_text() == "Mikrofon aus"  # a toggle keeps its label; pressed says it is on

    await counter.page.locator("#call-end").click()
    await counter.page.get_by_role("heading", name="Wie war das Gespräch?").wait_for()
    assert await focused(counter.page) == "rating-h"
    await status_line_matches_server(interpreter.page, "Nachbereitung")
    await interpreter.page.locator("#wrapup-text").filter(has_text="s Nachbereitung").wait_for()
    assert await focused(interpreter.page) == "wrapup-h"
    assert await axe_check(interpreter.page, f"screens-{size}-interpreter-wrapup", artifacts_dir) == []

    await _sweep(web, interpreter.page, "document.body.dataset.status === 'available'")
    await status_line_matches_server(interpreter.page, "verfügbar")
    assert await interpreter.page.locator("#wrapup").is_hidden()
    await interpreter.page.get_by_text("Die Nachbereitung ist vorbei.").wait_for()
    assert await focused(interpreter.page) == "presence-h"
    for person in (counter, interpreter):
        assert [e for e in person.errors if "favicon" not in e] == []


async def test_picker_choice_estimate_unfilled_and_cancel_agree_with_the_server(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession], artifacts_dir: Path
) -> None:
    """Typed-and-highlighted is chosen; the wait line matches the picker; unfilled stops searching; cancel is true."""
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await counter.page.set_viewport_size(SIZES["desktop"])
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    page = counter.page
    await page.goto(web.url("/counter.html"))
    await page.wait_for_function("document.body.dataset.loaded === '1' && window.__vd.signal.state === 'open'")
    combo = page.get_by_role("combobox", name="Sprache")
    assert await combo.get_attribute("aria-expanded") == "false"
    assert await page.locator("#lang-list").get_attribute("tabindex") == "-1"  # the list is no tab stop
    await combo.fill("arab")
    assert await combo.get_attribute("aria-expanded") == "true"
    option = page.locator("#lang-opt-ar")
    assert await option.get_attribute("aria-selected") == "true"  # highlighted, and that is all it means
    assert "jetzt verfügbar" in await option.inner_text()
    # No Enter: the highlighted match is what "Jetzt dolmetschen" asks for.
    await page.get_by_role("button", name="Jetzt dolmetschen").click()
    await page.wait_for_function("document.body.dataset.view === 'waiting'")
    assert await page.locator("#waiting-language").inner_text() == "Sprache: Arabisch"
    assert await page.get_by_text("Bitte zuerst eine Sprache wählen").count() == 0
    estimate = await page.locator("#waiting-estimate").inner_text()
    assert "nicht schätzen" not in estimate, estimate
    assert await axe_check(page, "screens-counter-waiting", artifacts_dir) == []

    # The only interpreter declines and steps away: after the maximum wait nobody is free.
    await interpreter.page.get_by_role("button", name="Ablehnen").click()
    await interpreter.page.get_by_role("button", name="Abwesend", exact=True).click()
    await interpreter.page.wait_for_function("document.body.dataset.status === 'away'")
    await _sweep(web, page, "!document.querySelector('#unfilled').hidden")
    await page.get_by_role("heading", name="Gerade ist niemand frei").wait_for()
    assert await page.get_by_role("alert").inner_text() == (
        "Für diese Sprache ist gerade niemand frei. Sie können einen Rückruf anfordern oder einen Termin buchen.")
    assert await page.get_by_text("wird gerade angeboten").count() == 0
    assert await page.locator(".searching").count() == 0  # the animation stopped
    assert await axe_check(page, "screens-counter-unfilled", artifacts_dir) == []

    await page.get_by_role("button", name="Rückruf, sobald jemand frei ist").click()
    await page.get_by_text("Rückruf vorgemerkt").wait_for()
    await page.get_by_role("button", name="Anfrage abbrechen").click()
    await page.get_by_text("Die Anfrage wurde abgebrochen.").wait_for()
    async with sessionmaker() as db:
        statuses = sorted((await db.execute(select(InterpretingRequest.status))).scalars())
    assert statuses == ["cancelled", "unfilled"], statuses  # the follow-up callback really is cancelled
    assert [e for e in counter.errors if "favicon" not in e] == []

