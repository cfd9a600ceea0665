"""Steps the browser journeys share: bring an interpreter online, ask for a language, media checks."""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import Page

from tests.web.conftest import ready


async def interpreter_available(page: Page, url: str) -> None:
    """Open the console and switch to available (the socket makes the interpreter online)."""
    await page.goto(url)
    await ready(page, "loaded")
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    await page.get_by_role("button", name="Verfügbar", exact=True).click()
    await page.wait_for_function("document.body.dataset.status === 'available'")


async def ask_now(page: Page, url: str, search: str, option_code: str) -> None:
    """On the counter: search the language, choose it by keyboard, and press 'Jetzt dolmetschen'."""
    await page.goto(url)
    await ready(page, "loaded")
    await page.wait_for_function("window.__vd.signal.state === 'open'")
    await page.get_by_role("combobox", name="Sprache").fill(search)
    await page.locator(f"#lang-opt-{option_code}").wait_for()
    await page.get_by_role("combobox", name="Sprache").press("Enter")
    await page.get_by_role("button", name="Jetzt dolmetschen").click()


async def remote_video_playing(page: Page, timeout_ms: int = 15_000) -> None:
    await page.wait_for_function(
        "[...document.querySelectorAll('video.remote-video')].some(v => v.videoWidth > 0 && !v.paused)",
        timeout=timeout_ms,
    )


async def inbound_growth(page: Page, seconds: float = 1.5) -> dict[str, Any]:
    """Two getStats samples `seconds` apart: how many bytes and frames arrived in between."""
    first = await page.evaluate("window.__vd.call.inboundTotals()")
    await asyncio.sleep(seconds)
    second = await page.evaluate("window.__vd.call.inboundTotals()")
    return {key: second[key] - first[key] for key in ("bytesReceived", "framesDecoded")}
