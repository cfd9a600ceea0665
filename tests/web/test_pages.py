"""Each page on its own: the client screen's languages, the counter's choices, device check, axe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import World
from tests.web.conftest import Web, axe_check, ready

pytestmark = pytest.mark.browser


async def test_client_screen_in_arabic_is_right_to_left_with_the_arabic_notice(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """The notice carries lang=ar and dir=rtl and reads in Arabic; the staff chooser stays German."""
    page = (await web.person(None)).page
    await page.goto(web.url("/client.html?lang=ar&state=connecting"))
    await ready(page)
    notice = page.locator("#notice")
    assert await notice.get_attribute("lang") == "ar"
    assert await notice.get_attribute("dir") == "rtl"
    assert await notice.inner_text() == "جارٍ توصيل مترجم فوري."
    assert await page.evaluate("getComputedStyle(document.querySelector('#notice')).direction") == "rtl"
    assert await page.evaluate("document.documentElement.lang") == "de"
    assert await axe_check(page, "client-ar", artifacts_dir) == []
    await page.get_by_label("Sprache der Kundin / des Kunden").select_option("uk")
    await page.wait_for_function("document.querySelector('#notice').lang === 'uk'")
    assert await notice.get_attribute("dir") == "ltr"
    assert await notice.inner_text() == "Підключаємо перекладача."


async def test_client_screen_follows_the_counter_over_a_broadcast_channel(web: Web, world: World) -> None:
    """A second window shows what the counter tells it: language chosen, then 'please wait'."""
    counter = await web.person("caseworker_a")
    await counter.page.goto(web.url("/counter.html"))
    await ready(counter.page, "loaded")
    screen = await counter.context.new_page()
    await screen.goto(web.url("/client.html"))
    await ready(screen)
    await counter.page.get_by_role("combobox", name="Sprache").fill("فارسی")
    await counter.page.get_by_role("combobox", name="Sprache").press("Enter")
    await screen.wait_for_function("document.querySelector('#notice').lang === 'fa'")
    assert await screen.locator("#notice").get_attribute("dir") == "rtl"
    assert await screen.locator("#notice").inner_text() == "خوش آمدید. یک مترجم به شما کمک خواهد کرد."


async def test_counter_picker_searches_native_names_and_shows_who_is_online(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """Typing a native name finds the language; each entry says whether interpreters are online."""
    page = (await web.person("caseworker_a")).page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    assert await axe_check(page, "counter-choose", artifacts_dir) == []
    combo = page.get_by_role("combobox", name="Sprache")
    await combo.fill("Українська")
    options = page.get_by_role("listbox").get_by_role("option")
    assert await options.count() == 1
    assert "Ukrainisch" in await options.first.inner_text()
    await combo.fill("")
    arabic = page.locator("#lang-opt-ar .meta")
    assert await arabic.get_attribute("data-tier") in {"booking", "none", "now", "soon"}
    await combo.fill("Persian")
    await combo.press("Enter")
    await page.get_by_text("Gewählt: Persisch.").wait_for()
    await page.get_by_role("button", name="English").click()
    await page.get_by_text("Chosen: Persian.").wait_for()
    await page.get_by_role("button", name="Interpret now").wait_for()


async def test_device_check_echoes_camera_and_microphone_through_the_server(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """The pre-call check sends media to the server's echo peer and plays what comes back."""
    page = (await web.person("caseworker_a")).page
    await page.goto(web.url("/counter.html"))
    await ready(page, "loaded")
    await page.get_by_role("button", name="Gerätetest").click()
    await page.get_by_role("button", name="Test starten").click()
    await page.wait_for_function("document.body.dataset.check", timeout=20_000)
    assert await page.evaluate("document.body.dataset.check") == "ok"
    await page.get_by_text("Alles in Ordnung").wait_for()
    assert await axe_check(page, "counter-device-check", artifacts_dir) == []


async def test_guest_page_refuses_a_link_without_token_and_manager_frame_loads(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """A broken invitation says so clearly; the manager frame signs in and passes axe."""
    guest = (await web.person(None)).page
    await guest.goto(web.url("/guest.html"))
    await ready(guest)
    await guest.get_by_text("Dieser Link ist ungültig oder abgelaufen.").wait_for()
    assert await axe_check(guest, "guest-invalid", artifacts_dir) == []
    manager = (await web.person("manager")).page
    await manager.goto(web.url("/manager/"))
    await ready(manager, "loaded")
    await manager.get_by_role("heading", name="Auswertung und Planung").wait_for()
    assert await axe_check(manager, "manager", artifacts_dir) == []


async def test_pages_send_other_roles_home(web: Web, world: World) -> None:
    """An interpreter opening the admin page lands on the console; anonymous users on the login."""
    page = (await web.person("interpreter")).page
    await page.goto(web.url("/admin.html"))
    await page.wait_for_url("**/interpreter.html")
    anonymous = (await web.person(None)).page
    await anonymous.goto(web.url("/counter.html"))
    await anonymous.wait_for_url("**/login.html?next=%2Fcounter.html")
