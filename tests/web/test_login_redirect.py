"""The login page follows `next` only to a path on its own origin (no open redirect), in Chromium."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route

from tests.conftest import PASSWORD, World
from tests.web.conftest import Web, ready

pytestmark = pytest.mark.browser

EVIL_NEXT = ["/%5Cevil.example/x", "/%09/evil.example", "//evil.example/x", "https://evil.example/x",
             "/%5C%5Cevil.example", "javascript:alert(1)"]


@pytest.mark.parametrize("evil", EVIL_NEXT)
async def test_a_foreign_next_is_ignored_and_the_person_lands_on_their_home(web: Web, world: World,
                                                                            evil: str) -> None:
    """`login.html?next=<another origin in disguise>`: after sign-in the admin sees their own
    admin page on this origin, never the foreign host."""
    page = (await web.person(None)).page
    foreign: list[str] = []

    async def guard(route: Route) -> None:  # another host is never reached, only recorded
        if urlsplit(route.request.url).hostname != "127.0.0.1":
            foreign.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    await page.route("**/*", guard)
    await page.goto(web.url(f"/login.html?next={evil}"))
    await ready(page)
    await page.get_by_label("Benutzername").fill("admin")
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(web.url("/admin.html"))
    await ready(page, "loaded")
    await page.get_by_role("heading", name="Verwaltung", exact=True).wait_for()
    assert page.url.startswith(web.url("/")) and not foreign


async def test_a_same_origin_next_is_followed(web: Web, world: World) -> None:
    """A path on this origin (with query and fragment) is where the person lands after sign-in."""
    page = (await web.person(None)).page
    await page.goto(web.url("/login.html?next=%2Foutbox.html%3Fpage%3D1%23top"))
    await ready(page)
    await page.get_by_label("Benutzername").fill("admin")
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await page.wait_for_url(web.url("/outbox.html?page=1#top"))
