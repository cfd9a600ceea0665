"""The manager page with a year of demo history, as a manager sees it at 1280×800: a summary first (the ten
worst staffing gaps and their totals) instead of hundreds of rows, the full gap table one click away behind
a disclosure, and wide tables that keep their important columns first and scroll sideways inside a visible,
keyboard-reachable box that fits the window."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession

from broker.demo.history import generate_history
from broker.demo.seed import DEMO_PASSWORD, seed
from tests.conftest import require_or_skip
from tests.web import conftest as web_fixtures
from tests.web.conftest import Web

pytestmark = [pytest.mark.browser, pytest.mark.slow]
web = web_fixtures.web
CATALOG = json.loads((Path(__file__).resolve().parents[2] / "web" / "i18n" / "de.json").read_text(encoding="utf-8"))
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


@pytest.fixture
def backend() -> str:
    """Browser tests prove the page, not the database: SQLite only (the API tests cover both)."""
    return "sqlite"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Chromium as people run it: Playwright's headless default hides every scrollbar
    (--hide-scrollbars), which would make "the scrollbar is visible" untestable."""
    require_or_skip(web_fixtures.chromium_available(), f"Chromium ({web_fixtures.CHROMIUM})")
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=web_fixtures.CHROMIUM, headless=True,
                                            args=web_fixtures.CHROMIUM_ARGS, ignore_default_args=["--hide-scrollbars"])
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def demo_year(db: AsyncSession) -> AsyncIterator[None]:
    """The demo's offices, languages and 60 interpreters with twelve months of ledger history up to now."""
    await seed(db)
    await db.commit()
    await generate_history(db=db, months=12)
    await db.commit()
    yield


async def manager_page(web: Web) -> Page:
    context = await web.browser.new_context(base_url=web.server.url, locale="de-DE", viewport=VIEWPORT,
                                            bypass_csp=True)
    context.set_default_timeout(30_000)
    response = await context.request.post(web.url("/api/auth/login"),
                                          data={"username": "manager", "password": DEMO_PASSWORD})
    assert response.ok, await response.text()
    page = await context.new_page()
    web.people.append(web_fixtures.Person(context, page))
    await page.goto(web.url("/manager/"))
    # A year of history: the reports and the plan take a while on a loaded machine.
    await page.wait_for_selector("#dashboard[data-state='ready']", timeout=120_000)
    await page.wait_for_selector("#staffing[data-state='ready'], #staffing[data-state='error']", timeout=120_000)
    return page


def german_int(n: int) -> str:
    """An integer as Intl.NumberFormat('de-DE') prints it: 2.238."""
    return f"{n:,}".replace(",", ".")


async def api_json(page: Page, path: str) -> Any:
    # A year of history: under two suites at once the report can take longer than 30 s.
    response = await page.context.request.get(path, timeout=180_000)
    assert response.ok, await response.text()
    return await response.json()


@pytest.mark.timeout(600)  # a year of history to seed and report on, on a loaded two-core machine
async def test_manager_page_summarises_first_and_its_wide_table_scrolls_visibly(
    web: Web, demo_year: None, artifacts_dir: Path
) -> None:
    """With a year of demo data the page stays under 9500 px (it was 120,000); the planning section says how
    many gaps there are and lists the ten worst as the API ranks them; the full table is closed in a
    disclosure that opens to every gap; the figures table's box fits the window, shows a real scrollbar,
    takes keyboard focus and scrolls sideways, with the grouping and the request count as its first columns."""
    page = await manager_page(web)
    height = await page.evaluate("document.documentElement.scrollHeight")
    # 120,000 px before (every gap and pay row inline). What remains is a fixed amount of content: five
    # charts with their tables, the staffing section's two charts and forms, and boxes of bounded height.
    assert height < 9500, height

    query = await page.evaluate("location.search.slice(1)")
    planning = await api_json(page, f"/api/reports/planning?{query}")
    gaps = planning["gaps"]
    assert len(gaps) > 10, "a year of demo data has many gaps: the summary has something to summarise"
    summary = page.locator("#planning-gap-summary")
    assert await summary.is_visible()
    total_text = await page.text_content("#planning-gap-total")
    assert total_text is not None and total_text.startswith(f"{german_int(len(gaps))} Lücken"), total_text
    worst = await page.locator("#planning-worst tbody tr th").all_text_contents()
    # The ten worst in the API's order, worded in German from the catalog (not the server's English text).
    days = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"]
    one = lambda x: f"{math.floor(x * 10 + 0.5) / 10:g}".replace(".", ",")  # noqa: E731 - as the page's Math.round
    assert worst == [f"{g['language_name']}, {days[g['weekday']]} {g['start_hour']}–{g['end_hour']} Uhr: "
                     f"Bedarf {one(g['need'])}, vorhanden {one(g['have'])}" for g in gaps[:10]]

    disclosure = page.locator("#planning-all-gaps")
    assert await disclosure.evaluate("d => d.tagName") == "DETAILS"
    assert await disclosure.evaluate("d => d.open") is False
    assert not await page.locator("#planning-gaps").is_visible()
    opener = page.get_by_text(CATALOG["manager.gaps_all"].format(count=german_int(len(gaps))), exact=True)
    await opener.click()
    assert await disclosure.evaluate("d => d.open") is True
    assert await page.locator("#planning-gaps").is_visible()
    assert await page.locator("#planning-gaps tbody tr").count() == len(gaps)
    await opener.click()

    box = page.locator("#section-figures .scroll")
    await box.scroll_into_view_if_needed()
    geometry = await box.evaluate("""b => { const r = b.getBoundingClientRect(); const s = getComputedStyle(b);
      return { left: r.left, right: r.right, client: b.clientWidth, scroll: b.scrollWidth,
               bar: b.offsetHeight - b.clientHeight - parseFloat(s.borderTopWidth) - parseFloat(s.borderBottomWidth),
               tabindex: b.tabIndex, label: b.getAttribute('aria-label'), vw: window.innerWidth }; }""")
    assert geometry["left"] >= 0 and geometry["right"] <= geometry["vw"], geometry
    assert geometry["scroll"] > geometry["client"], geometry  # wider than its box: it must scroll
    assert geometry["bar"] >= 8, geometry  # a classic scrollbar takes room: people can see it
    assert geometry["tabindex"] == 0 and geometry["label"], geometry
    headers = await page.locator("#figures-table thead th").all_text_contents()
    assert headers[:3] == [CATALOG["manager.col.language"], CATALOG["manager.col.requests"],
                           CATALOG["manager.col.sessions"]], headers
    await box.focus()
    await page.keyboard.press("ArrowRight")
    await page.wait_for_function("document.querySelector('#section-figures .scroll').scrollLeft > 0")
    assert await page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    # Last: Playwright hides scrollbars while it takes a full-page screenshot.
    await page.screenshot(path=str(artifacts_dir / "manager-year-1280.png"), full_page=True)
