"""The counter's language line follows who is on duty while the form waits, without a reload."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conftest import World
from tests.web.conftest import Web
from tests.web.helpers import choose_language, interpreter_available

pytestmark = [pytest.mark.browser]


async def test_when_the_only_speaker_goes_away_the_counter_says_book_instead_of_all_busy(
    web: Web, world: World,
) -> None:
    """Arabic's only interpreter is available, then switches to away. The line under the picker
    changes from "online – jetzt verfügbar" to "niemand online – Termin buchen" by itself: not
    "alle im Einsatz" (away is not busy) and not the stale promise of someone available."""
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    await choose_language(counter.page, web.url("/counter.html"), "arab", "ar")
    line = counter.page.locator("#lang-chosen")
    await expect(line).to_contain_text("jetzt verfügbar")

    await interpreter.page.get_by_role("button", name="Abwesend", exact=True).click()
    await interpreter.page.wait_for_function("document.body.dataset.status === 'away'")
    await counter.page.locator("#purpose").focus()  # the person moved on in the form, list closed
    await expect(line).to_contain_text("niemand online – Termin buchen", timeout=45_000)
    assert "im Einsatz" not in await line.inner_text()
