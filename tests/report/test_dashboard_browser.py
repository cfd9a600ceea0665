"""The manager dashboard in headless Chromium: plotly charts drawn, tables equal to the API, filters and the
planning target work from labelled controls, axe finds nothing serious, a screenshot is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.report.conftest import Ledger
from tests.web import conftest as web_fixtures
from tests.web.conftest import Web, axe_check, ready

browser = web_fixtures.browser  # the browser tests' fixtures, shared rather than copied
web = web_fixtures.web
YEAR = "from=2025-01-01&to=2025-12-31"


@pytest.fixture
def backend() -> str:
    """Browser tests prove the page, not the database: SQLite only (the API tests cover both)."""
    return "sqlite"


async def api_json(page: Page, path: str) -> Any:
    response = await page.context.request.get(path)
    assert response.ok, await response.text()
    return await response.json()


async def table_values(page: Page, table_id: str, column: str) -> dict[str, float]:
    """Row header text → raw value of `column` for every body row of a table."""
    pairs: list[list[str]] = await page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        f"""rows => rows.map(r => [r.querySelector('th').textContent,
                                   r.querySelector('[data-col="{column}"]').dataset.value])""",
    )
    return {k: float(v) for k, v in pairs}


async def wait_ready(page: Page) -> None:
    await page.wait_for_selector("#dashboard[data-state='ready']")


async def test_dashboard_draws_charts_and_tables_equal_to_the_api(
    web: Web, ledger: Ledger, artifacts_dir: Path
) -> None:
    """Five plotly charts render; figures, chart tables and totals show exactly the API's numbers."""
    person = await web.person("manager")
    page = person.page
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    await page.goto(web.url(f"/manager/?{YEAR}&group_by=language"))
    await ready(page, "loaded")
    await wait_ready(page)
    await page.wait_for_function("document.querySelectorAll('#report-results .js-plotly-plot .main-svg').length >= 5")
    assert await page.locator("#report-results .js-plotly-plot").count() == 5

    usage = await api_json(page, f"/api/reports/usage?{YEAR}&group_by=language")
    for figure in ("requests", "sessions", "unmet", "talk_minutes"):
        shown = await table_values(page, "figures-table", figure)
        assert shown == {r["label"]["language"]: r[figure] for r in usage["rows"]}, figure
    total = await page.get_attribute("#report-totals [data-col='requests'] dd", "data-value")
    assert total == str(usage["total"]["requests"]) == "10"
    assert await page.text_content("#figures-table tbody tr:first-child [data-col='requests']") in {"4", "3", "1"}

    dashboard = await api_json(page, f"/api/reports/dashboard?{YEAR}")
    languages = next(s for s in dashboard["sections"] if s["id"] == "languages")
    shown = await table_values(page, "table-languages", "sessions")
    assert shown == {r["language"]: r["sessions"] for r in languages["rows"]}
    pay = await api_json(page, f"/api/reports/pay?{YEAR}")
    assert await page.locator("#pay-table tbody tr").count() == len(pay) == 3

    assert await axe_check(page, "manager-dashboard", artifacts_dir) == []
    await page.screenshot(path=str(artifacts_dir / "manager-dashboard.png"), full_page=True)
    assert person.errors == []
    assert [w for w in warnings if "i18n" in w] == []


async def test_filters_grouping_and_service_level_reload_from_labelled_controls(web: Web, ledger: Ledger) -> None:
    """Choosing a language and month grouping by label, then a 95 % target, redraws tables equal to the API."""
    page = (await web.person("manager")).page
    await page.goto(web.url(f"/manager/?{YEAR}"))
    await wait_ready(page)
    await page.get_by_role("combobox", name="Sprache", exact=True).select_option("ar")
    await page.get_by_role("checkbox", name="Monat").check()
    await page.get_by_role("button", name="Anwenden").press("Enter")
    await page.wait_for_function("location.search.includes('language=ar')")
    await wait_ready(page)
    usage = await api_json(page, f"/api/reports/usage?{YEAR}&language=ar&group_by=language&group_by=month")
    rows = await page.eval_on_selector_all(
        "#figures-table tbody tr",
        "rows => rows.map(r => [r.children[0].textContent, r.children[1].dataset.value,"
        " r.querySelector('[data-col=requests]').dataset.value, r.children[1].textContent])",
    )
    assert [row[:3] for row in rows] == [
        [r["label"]["language"], r["label"]["month"], str(r["requests"])] for r in usage["rows"]]
    # The month reads in the page's language ("Jan. 2025"), never as the ISO "2025-01".
    assert rows and all(not row[3].startswith("2025-") and row[3].endswith("2025") for row in rows), rows

    level = page.get_by_label("Ziel-Servicelevel (%)")
    await level.fill("95")
    await level.press("Enter")
    await page.wait_for_function("location.search.includes('service_level=0.95')")
    await wait_ready(page)
    plan = await api_json(page, f"/api/reports/planning?{YEAR}&language=ar&service_level=0.95")
    needs = await page.eval_on_selector_all(
        "#planning-gaps tbody tr", "rows => rows.map(r => r.querySelector('[data-col=need]')?.dataset.value)"
    )
    if plan["gaps"]:
        assert [float(n) for n in needs] == [g["need"] for g in plan["gaps"]]
    else:
        assert needs == [None]
    href = await page.get_attribute("a[href*='usage/export'][href*='format=xlsx']", "href")
    assert href is not None and "language=ar" in href and "group_by=month" in href


async def test_a_report_error_takes_the_old_figures_off_the_screen(web: Web, ledger: Ledger) -> None:
    """After figures for 2025 are shown, a period whose start lies after its end gets a 422: the person
    sees the German reason naming the problem, and none of the old figures stand under the new dates."""
    page = (await web.person("manager")).page
    await page.goto(web.url(f"/manager/?{YEAR}&group_by=language"))
    await ready(page, "loaded")
    await wait_ready(page)
    await page.locator("#figures-table").wait_for()
    assert await page.locator("#report-totals").is_visible()

    await page.get_by_label("Von (Tag)").fill("2025-12-31")
    await page.get_by_label("Bis (Tag, einschließlich)").fill("2025-01-01")
    await page.get_by_role("button", name="Anwenden").click()
    await page.wait_for_selector("#dashboard[data-state='error']")

    status = page.locator("#report-status")
    await status.filter(has_text="Der Bericht konnte nicht geladen werden").wait_for()
    assert "der Beginn liegt nach dem Ende" in (await status.inner_text())
    assert await page.locator("#figures-table, #report-totals, #report-results .js-plotly-plot").count() == 0
    assert (await page.locator("#report-results").inner_text()).strip() == ""
    assert await page.get_by_label("Von (Tag)").input_value() == "2025-12-31"


async def test_planning_gaps_read_in_the_pages_language(web: Web, ledger: Ledger) -> None:
    """The staffing gaps are worded from the catalogs: German weekday, "Bedarf … vorhanden" with a
    decimal comma; after the switch to English, "needed … available"; never the server's "need/have"."""
    page = (await web.person("manager")).page
    await page.goto(web.url(f"/manager/?{YEAR}&group_by=language"))
    await ready(page, "loaded")
    await wait_ready(page)
    cells = page.locator("#planning-gap-summary tbody tr th, #planning-gap-summary tbody tr [data-col='text']")
    await cells.first.wait_for()
    first = await cells.first.inner_text()
    assert "Bedarf" in first and "vorhanden" in first and "need" not in first, first
    assert any(day in first for day in ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag")), first
    await page.get_by_role("button", name="English").click()
    await page.locator("#planning-gap-summary").filter(has_text="needed").first.wait_for()
    first = await page.locator(
        "#planning-gap-summary tbody tr th, #planning-gap-summary tbody tr [data-col='text']").first.inner_text()
    assert "available" in first and "Bedarf" not in first, first
