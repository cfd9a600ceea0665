"""What the interpreter sees where they are (a new user's report): the absence form's error and its
"Gespeichert." show next to the form, inside the window, the wrong field marked and focused and named
by its label; after a call ends — by the counter or by the interpreter — the wrap-up heading is in
view and focused, even when the console was scrolled down during the call."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.conftest import World
from tests.web.conftest import Web, ready
from tests.web.helpers import ask_now, in_viewport, interpreter_available, remote_video_playing

pytestmark = pytest.mark.browser


async def test_absence_error_and_confirmation_show_next_to_the_form(web: Web, world: World) -> None:
    """Letzter Tag before Erster Tag: the refusal is shown under the absence form, in view, names
    "Letzter Tag", and that field is marked invalid and has focus; the corrected entry says
    "Gespeichert." in the same place."""
    page = (await web.person("interpreter")).page
    await page.goto(web.url("/interpreter.html"))
    await ready(page, "loaded")
    first, last = page.get_by_label("Erster Tag"), page.get_by_label("Letzter Tag")
    await page.get_by_role("heading", name="Abwesenheiten").scroll_into_view_if_needed()
    await first.fill("2026-12-10")
    await last.fill("2026-12-05")
    await page.get_by_role("button", name="Abwesenheit eintragen").click()

    error = page.get_by_text("das Ende muss nach dem Beginn liegen")
    await error.wait_for()
    assert await error.count() == 1
    assert (await error.inner_text()).strip() == "Letzter Tag: das Ende muss nach dem Beginn liegen"
    assert await in_viewport(page, error)
    assert await last.get_attribute("aria-invalid") == "true"
    assert await first.get_attribute("aria-invalid") in (None, "false")
    assert await page.evaluate("document.activeElement.id") == await last.get_attribute("id")

    await last.fill("2026-12-12")
    await page.get_by_role("button", name="Abwesenheit eintragen").click()
    saved = page.get_by_text("Gespeichert.", exact=True)
    await saved.wait_for()
    assert await in_viewport(page, saved)
    assert await error.count() == 0
    assert await last.get_attribute("aria-invalid") in (None, "false")
    assert await page.locator("#absences-list li").count() == 1


async def _scrolled_down_call(web: Web) -> tuple[Page, Page]:
    """A call on a console with a full week of availability (a long page), scrolled down to 754 px."""
    interpreter = (await web.person("interpreter")).page
    counter = (await web.person("caseworker_a")).page
    me = await (await interpreter.context.request.get(web.url("/api/auth/me"))).json()
    windows = [{"weekday": day, "start_time": f"{hour:02d}:00", "end_time": f"{hour + 1:02d}:00"}
               for day in range(5) for hour in (8, 10, 12)]
    put = await interpreter.context.request.put(web.url(f"/api/interpreters/{me['id']}/availability"),
                                                data={"windows": windows})
    assert put.ok, await put.text()
    await interpreter_available(interpreter, web.url("/interpreter.html"))
    await ask_now(counter, web.url("/counter.html"), "arab", "ar")
    await interpreter.get_by_role("button", name="Annehmen").click()
    for page in (counter, interpreter):
        await remote_video_playing(page)
    # The interpreter looks at the schedule below the call.
    await interpreter.evaluate("window.scrollTo(0, 754)")
    assert await interpreter.evaluate("window.scrollY") == 754
    return counter, interpreter


async def _wrap_up_seen(interpreter: Page) -> None:
    heading = interpreter.get_by_role("heading", name="Nachbereitung")
    await heading.wait_for()
    # The call view is gone and the page settled: focus is on the wrap-up heading …
    await interpreter.wait_for_function(
        "document.querySelector('#call-area').children.length === 0"
        " && document.activeElement && document.activeElement.id === 'wrapup-h'")
    await interpreter.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    # … and the interpreter can see it without scrolling.
    assert await in_viewport(interpreter, heading)
    assert await in_viewport(interpreter, interpreter.get_by_role("button", name="Bereit für die nächste Anfrage"))


async def test_wrap_up_is_in_view_when_the_counter_ends_the_call(web: Web, world: World) -> None:
    counter, interpreter = await _scrolled_down_call(web)
    await counter.get_by_role("button", name="Gespräch beenden").click()
    await _wrap_up_seen(interpreter)


async def test_wrap_up_is_in_view_when_the_interpreter_ends_the_call(web: Web, world: World) -> None:
    _counter, interpreter = await _scrolled_down_call(web)
    await interpreter.get_by_role("button", name="Gespräch beenden").click()
    await _wrap_up_seen(interpreter)
