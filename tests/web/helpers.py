"""Steps the browser journeys share: bring an interpreter online, ask for a language, media checks."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Locator, Page

from tests.waiting import eventually
from tests.web.conftest import ready


async def interpreter_available(page: Page, url: str) -> None:
    """Open the console and switch to available (the socket makes the interpreter online)."""
    await page.goto(url)
    await ready(page, "loaded")
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    await page.get_by_role("button", name="Verfügbar", exact=True).click()
    await page.wait_for_function("document.body.dataset.status === 'available'")


async def choose_language(page: Page, url: str, search: str, option_code: str) -> None:
    """Open the counter, search the language and choose it by keyboard."""
    await page.goto(url)
    await ready(page, "loaded")
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    await page.get_by_role("combobox", name="Sprache").fill(search)
    await page.locator(f"#lang-opt-{option_code}").wait_for()
    await page.get_by_role("combobox", name="Sprache").press("Enter")


async def ask_now(page: Page, url: str, search: str, option_code: str) -> None:
    """On the counter: search the language, choose it by keyboard, and press 'Jetzt dolmetschen'."""
    await choose_language(page, url, search, option_code)
    await page.get_by_role("button", name="Jetzt dolmetschen").click()


async def remote_video_playing(page: Page, timeout_ms: int = 15_000) -> None:
    await page.wait_for_function(
        "[...document.querySelectorAll('video.remote-video')].some(v => v.videoWidth > 0 && !v.paused)",
        timeout=timeout_ms,
    )


async def inbound_growth(page: Page, timeout: float = 10.0) -> dict[str, Any]:
    """How many bytes and frames arrived after a first getStats sample: waits until both grew
    (or the deadline passes), so the caller's `> 0` checks that media keeps flowing."""
    first = await page.evaluate("window.__vd.call.inboundTotals()")
    keys = ("bytesReceived", "framesDecoded")
    growth: dict[str, Any] = {}

    async def grew() -> bool:
        second = await page.evaluate("window.__vd.call.inboundTotals()")
        growth.update({key: second[key] - first[key] for key in keys})
        return all(growth[key] > 0 for key in keys)

    try:
        await eventually(grew, timeout=timeout)
    except AssertionError:
        pass  # the caller's assertion names what did not grow
    return growth


async def in_viewport(page: Page, locator: Locator) -> bool:
    """Whether the element's whole box is inside the visible window (what the person can see without scrolling)."""
    box = await locator.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] \
        and box["y"] + box["height"] <= size["height"]


async def open_booking_for_arabic(page: Page, url: str) -> None:
    """Open the counter, choose Arabic and open "Termin buchen"."""
    await page.goto(url)
    await ready(page, "loaded")
    await page.get_by_role("combobox", name="Sprache").fill("Arab")
    await page.get_by_role("combobox", name="Sprache").press("Enter")
    await page.get_by_role("button", name="Termin buchen").click()
