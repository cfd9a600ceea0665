"""The dashboard's staffing section in headless Chromium, as a manager sees it: the head-count chart, the
worst gaps as German sentences equal to the API's plan, the coverage heat map with response promises, and
the what-if form answering from labelled controls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from tests.report.conftest import Ledger
from tests.web import conftest as web_fixtures
from tests.web.conftest import Web

browser = web_fixtures.browser
web = web_fixtures.web
PERIOD = "from=2025-01-06&to=2025-01-12"
CATALOG = json.loads((Path(__file__).resolve().parents[2] / "web" / "i18n" / "de.json").read_text(encoding="utf-8"))


@pytest.fixture
def backend() -> str:
    """Browser tests prove the page, not the database: SQLite only (the API tests cover both)."""
    return "sqlite"


async def api_json(page: Page, path: str) -> Any:
    response = await page.context.request.get(path)
    assert response.ok, await response.text()
    return await response.json()


def german(number: float) -> str:
    """One decimal at most, German decimal comma (as Intl.NumberFormat('de-DE') prints it)."""
    value = round(number * 10) / 10
    return f"{value:g}".replace(".", ",")


async def test_manager_sees_plan_gaps_coverage_and_what_if(web: Web, ledger: Ledger, artifacts_dir: Path) -> None:
    """Erlang A stands beside Erlang C in the planning table with both assumptions; the plan chart and
    heat map are drawn; the gap sentences say what the API's plan says; Arabic's response promise reads
    from the catalog; a what-if for one more Arabic speaker answers on the page; the training advice
    says what the API found."""
    person = await web.person("manager")
    page = person.page
    await page.goto(web.url(f"/manager/?{PERIOD}"))
    await page.wait_for_selector("#staffing[data-state='ready']", timeout=60_000)
    assert await page.locator("#staffing-chart .main-svg").count() >= 1
    assert await page.locator("#coverage-chart .heatmap, #coverage-chart .hm").count() >= 1

    await page.wait_for_selector("#dashboard[data-state='ready']")
    planning = await api_json(page, f"/api/reports/planning?{PERIOD}&service_level=0.8&answer_seconds=60")
    erlang = await page.eval_on_selector_all(
        "#planning-languages tbody tr",
        "rows => rows.map(r => [r.querySelector('[data-col=peak_erlang_c]').dataset.value,"
        " r.querySelector('[data-col=peak_erlang_a]').dataset.value])")
    assert erlang == [[str(r["peak_erlang_c"]), str(r["peak_erlang_a"])] for r in planning["languages"]]
    assert await page.locator("#planning-assumptions").is_visible()

    plan = await api_json(page, f"/api/reports/plan?{PERIOD}&weeks=1&max_seconds=20")
    sentences = await page.locator("#staffing-gaps li").all_text_contents()
    expected = [
        CATALOG["staffing.gap"].format(day=CATALOG[f"weekday.{g['weekday']}"], **{"from": g["start_hour"]},
                                       to=g["end_hour"], needed=g["needed"], online=german(g["online"]),
                                       short=german(g["short"]))
        for g in plan["gaps"]
    ]
    assert plan["gaps"] and sentences == expected
    assert sentences[0].endswith("Personenstunden.")
    needed = await page.eval_on_selector_all("#staffing-hours tbody tr [data-col=needed]",
                                             "cells => cells.map(c => Number(c.dataset.value))")
    assert needed == [h["people"] for h in plan["hours"]]

    coverage = await api_json(page, f"/api/reports/coverage?{PERIOD}")
    arabic = next(r for r in coverage["languages"] if r["language"] == "ar")
    row = page.locator("#coverage-table tbody tr", has_text=arabic["language_name"])
    assert await row.locator("[data-col=tier]").text_content() == CATALOG[f"staffing.tier.{arabic['tier']}"]

    await page.get_by_label("Sprachen der neuen Person").select_option("ar")
    for day in ("Samstag", "Sonntag"):
        await page.get_by_role("checkbox", name=day).check()
    await page.get_by_label("Beginn (Stunde)").fill("0")
    await page.get_by_label("Ende (Stunde)").fill("24")
    await page.get_by_role("button", name="Durchrechnen").click()
    await page.wait_for_selector("#whatif-form[data-state='ready']", timeout=60_000)
    total = page.locator("#whatif-total")
    await total.scroll_into_view_if_needed()
    assert await total.is_visible()
    assert re.match(r"Erwartete Änderung: [-−]\d", await total.text_content() or ""), await total.text_content()
    assert "Arabisch" in (await page.locator("#whatif-rows").text_content() or "")

    await page.get_by_role("button", name="Zweitsprachen bewerten").click()
    await page.wait_for_selector("#training[data-state='ready']", timeout=60_000)
    training = await api_json(page, f"/api/reports/training?{PERIOD}&weeks=1")
    # This week's only interpreter already speaks Arabic, the language that goes unfilled: the API finds
    # nothing to train and the page says so (the ranking itself: tests/planning/test_whatif.py).
    assert [c for c in training["candidates"] if c["unfilled_removed_per_week"] > 0] == []
    shown = page.locator("#training-result p").first
    expected = CATALOG["staffing.training_none"]
    await shown.scroll_into_view_if_needed()
    assert await shown.is_visible()
    assert await shown.text_content() == expected
    assert person.errors == []
    await page.locator("#section-staffing").screenshot(path=str(artifacts_dir / "manager-staffing.png"))


async def test_planning_mistakes_read_in_german_by_the_fields_label(web: Web, ledger: Ledger) -> None:
    """A what-if whose end lies before its start is refused next to the form, naming "Ende (Stunde)" and
    focusing it; a period whose start lies after its end is refused in the staffing section in German,
    never as the server's English message."""
    person = await web.person("manager")
    page = person.page
    await page.goto(web.url(f"/manager/?{PERIOD}"))
    await page.wait_for_selector("#staffing[data-state='ready']", timeout=60_000)
    await page.get_by_label("Sprachen der neuen Person").select_option("ar")
    await page.get_by_label("Beginn (Stunde)").fill("16")
    await page.get_by_label("Ende (Stunde)").fill("8")
    await page.get_by_role("button", name="Durchrechnen").click()
    expected = CATALOG["error.field"].format(field=CATALOG["staffing.whatif_end"],
                                             message=CATALOG["error.validation.window_order"])
    result = page.locator("#whatif-result")
    await result.get_by_text(expected).wait_for()
    assert await page.evaluate("document.activeElement.id") == "whatif-end"
    assert await page.get_by_label("Ende (Stunde)").get_attribute("aria-invalid") == "true"

    await page.goto(web.url("/manager/?from=2025-01-12&to=2025-01-06"))
    await page.wait_for_selector("#staffing[data-state='error']", timeout=60_000)
    status = await page.locator("#staffing").inner_text()
    assert CATALOG["staffing.error"].split(":")[0] in status
    assert "must not be after" not in status and CATALOG["error.validation.period_order"] in status, status
