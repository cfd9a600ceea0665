"""The client view shown inside the counter page (issue 16 item 9): its privacy line is readable.

The contrast is computed from the colours Chromium actually renders (the text colour and the first
opaque background behind it), with the WCAG 2 relative-luminance formula.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import World
from tests.web.conftest import Web
from tests.web.helpers import choose_language

pytestmark = pytest.mark.browser
CLIENT = Path(__file__).resolve().parents[2] / "web" / "i18n" / "client"


def _rgba(css: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of a text colour (blended over its background if translucent)."""
    fr, fg, fb, fa = _rgba(foreground)
    br, bg, bb, _ = _rgba(background)
    text = (fr * fa + br * (1 - fa), fg * fa + bg * (1 - fa), fb * fa + bb * (1 - fa))
    lighter, darker = sorted((_luminance(text), _luminance((br, bg, bb))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


async def rendered_colours(page: Page, selector: str) -> tuple[str, str]:
    """The element's computed text colour and the first opaque background behind it."""
    colours: list[str] = await page.eval_on_selector(selector, """node => {
        const color = getComputedStyle(node).color;
        for (let n = node; n; n = n.parentElement) {
            const bg = getComputedStyle(n).backgroundColor;
            const alpha = bg.startsWith('rgba') ? parseFloat(bg.split(',')[3]) : 1;
            if (alpha >= 1) return [color, bg];
        }
        return [color, 'rgb(255, 255, 255)'];
    }""")
    return colours[0], colours[1]


def test_the_contrast_formula_matches_known_pairs() -> None:
    """Black on white is 21:1, equal colours 1:1, #767676 on white the well-known 4.54:1."""
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert contrast("rgb(12, 34, 56)", "rgb(12, 34, 56)") == pytest.approx(1.0)
    assert round(contrast("rgb(118, 118, 118)", "rgb(255, 255, 255)"), 2) == 4.54


async def test_the_privacy_line_of_the_in_page_client_view_has_at_least_4_5_to_1(web: Web, world: World) -> None:
    """The caseworker shows the client view on the counter page: the privacy line is visible, in the
    client's language, and its rendered colours give a contrast of at least 4.5:1."""
    arabic = json.loads((CLIENT / "ar.json").read_text(encoding="utf-8"))
    page = (await web.person("caseworker_a")).page
    await choose_language(page, web.url("/counter.html"), "arab", "ar")
    await page.get_by_role("button", name="Kundenansicht hier zeigen").click()
    line = page.locator("#client-panel-sub")
    await expect(line).to_have_text(arabic["privacy"])
    assert await line.is_visible()
    foreground, background = await rendered_colours(page, "#client-panel-sub")
    ratio = contrast(foreground, background)
    assert ratio >= 4.5, (foreground, background, ratio)
