"""A caseworker who closes the browser while waiting finds the request again after signing in."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.enums import RequestStatus
from broker.request.models import InterpretingRequest
from tests.conftest import World
from tests.waiting import eventually
from tests.web.conftest import Web
from tests.web.helpers import ask_now, in_viewport

pytestmark = [pytest.mark.browser]


async def test_a_request_left_waiting_in_a_closed_browser_is_shown_again_and_can_be_cancelled(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Nobody is online for Arabic, so the request waits. The browser is closed (its session
    storage with it) and opened again: the counter shows the waiting request, not an empty form
    that leaves it to ring an interpreter into an empty room; cancelling it ends it."""
    first = await web.person("caseworker_a")
    await ask_now(first.page, web.url("/counter.html"), "arab", "ar")
    await first.page.wait_for_function("document.body.dataset.view === 'waiting'")
    await first.context.close()

    again = await web.person("caseworker_a")
    page = again.page
    await page.goto(web.url("/counter.html"))
    await page.wait_for_function("document.body.dataset.view === 'waiting'")
    await expect(page.locator("#waiting-language")).to_contain_text("Arabisch")
    cancel = page.get_by_role("button", name="Anfrage abbrechen")
    await expect(cancel).to_be_visible()
    assert await in_viewport(page, cancel)
    await cancel.click()
    await page.wait_for_function("document.body.dataset.view === 'choose'")

    async def cancelled() -> bool:
        async with sessionmaker() as db:
            return (await db.execute(select(InterpretingRequest.status))).scalar_one() is RequestStatus.CANCELLED

    await eventually(cancelled, message="the request was not cancelled")
    assert [e for e in again.errors if "favicon" not in e] == []
