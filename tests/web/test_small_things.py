"""Smaller things seen on screen (issue 16): the "choose a language first" error goes once a language is
chosen; language tags a screen reader needs (the guest page's language button, the German Sign Language
label in German); the device check in audio-only mode shows no empty picture and promises only sound."""

from __future__ import annotations

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.conftest import World
from tests.web.conftest import Web, ready
from tests.web.helpers import ask_now, interpreter_available

pytestmark = pytest.mark.browser


async def test_choose_language_error_goes_once_a_language_is_chosen(web: Web, world: World) -> None:
    """Asking with no language shows "Bitte zuerst eine Sprache wählen."; choosing Arabic removes it."""
    page = (await web.person("caseworker_a")).page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    await page.get_by_role("button", name="Jetzt dolmetschen").click()
    error = page.get_by_text("Bitte zuerst eine Sprache wählen.")
    await error.wait_for()
    combo = page.get_by_role("combobox", name="Sprache")
    await combo.fill("arab")
    await page.locator("#lang-opt-ar").wait_for()
    await combo.press("Enter")
    await error.wait_for(state="detached")
    assert await page.get_by_text("Bitte zuerst eine Sprache wählen.").count() == 0


async def test_language_tags_on_the_guest_button_and_the_sign_language_label(web: Web, world: World) -> None:
    """The German guest page's "English" button is tagged lang=en; on the counter the native name of
    German Sign Language is tagged lang=de (a sign language has no written form of its own)."""
    guest = (await web.person(None)).page
    await guest.goto(web.url("/guest.html"))
    await ready(guest)
    switch = guest.locator("#locale-switch")
    assert (await switch.inner_text()).strip() == "English"
    assert await switch.get_attribute("lang") == "en"

    page = (await web.person("caseworker_a")).page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    await page.get_by_role("combobox", name="Sprache").fill("Gebärden")
    native = page.locator("#lang-opt-gsg .native")
    await native.wait_for()
    assert await native.get_attribute("lang") == "de"


async def test_device_check_in_audio_only_mode_shows_no_picture_and_promises_sound_only(
    web: Web, world: World
) -> None:
    """With "Nur Audio" the device check hides the video area (no black box) and says the sound arrives,
    never "Bild und Ton"."""
    page = (await web.person("caseworker_a")).page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    await page.get_by_label("Nur Audio (ohne Kamera)").check()
    await page.get_by_role("button", name="Gerätetest").click()
    await page.get_by_role("button", name="Test starten").click()
    await page.wait_for_function("document.body.dataset.check", timeout=30_000)
    assert await page.evaluate("document.body.dataset.check") == "ok"
    await page.get_by_text("Alles in Ordnung: Der Ton kommt an.").wait_for()
    visible_videos = await page.evaluate(
        "[...document.querySelectorAll('#check-area video')].filter(v => v.getBoundingClientRect().height > 0).length")
    assert visible_videos == 0
    assert "Bild" not in await page.locator("#check").inner_text()


async def test_a_space_typed_while_an_offer_arrives_does_not_accept_it(web: Web, world: World) -> None:
    """The interpreter is typing a note when an offer arrives: focus moves to the dialog itself (not to
    "Annehmen"), so the next Space accepts nothing; Tab stays inside the dialog."""
    interpreter = (await web.person("interpreter")).page
    counter = (await web.person("caseworker_a")).page
    await interpreter_available(interpreter, web.url("/interpreter.html"))
    note = interpreter.get_by_label("Notiz", exact=False).first
    await note.click()
    await note.type("Urlaub")
    await ask_now(counter, web.url("/counter.html"), "arab", "ar")
    offer = interpreter.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.wait_for()
    await interpreter.wait_for_function("document.activeElement && document.activeElement.id === 'offer'")
    await interpreter.keyboard.press("Space")
    await interpreter.keyboard.press("Tab")
    assert await interpreter.evaluate("document.activeElement.closest('#offer') !== null")
    # Behind the dialog the console is inert and looks paused (dimmed): a click meant for "Abwesend"
    # or the note reaches nothing.
    dimmed = "parseFloat(getComputedStyle(document.querySelector('#presence-h').closest('section')).opacity)"
    assert await interpreter.evaluate(dimmed) < 1
    for behind in ("#status-away", "#absence-note"):
        with pytest.raises(PlaywrightTimeout):
            await interpreter.locator(behind).click(trial=True, timeout=1_500)
    # Had the Space accepted, the call would start; declining now must bring the console back instead.
    await offer.get_by_role("button", name="Ablehnen").click()
    await interpreter.wait_for_function("['available', 'away'].includes(document.body.dataset.status)")
    assert await counter.evaluate("document.body.dataset.view") != "call"
    # Focus goes back where the interpreter was typing, and the note takes clicks and keys again.
    assert await interpreter.evaluate("document.activeElement.id") == "absence-note"
    assert await interpreter.evaluate(dimmed) == 1
    await note.type(" im Mai")
    assert await note.input_value() == "Urlaub im Mai"
