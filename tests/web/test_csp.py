"""Every page under the app's strict Content-Security-Policy in Chromium: it draws itself (its main
heading shows) and the browser reports no CSP violation, neither as a console message nor as a
`securitypolicyviolation` event. The manager page is loaded with ledger data, so plotly really draws."""

from __future__ import annotations

import pytest

from broker.ops.headers import CONTENT_SECURITY_POLICY, MANAGER_CONTENT_SECURITY_POLICY
from tests.conftest import World
from tests.report.conftest import Ledger
from tests.report.conftest import ledger as ledger  # noqa: F401 - fixture shared, not copied
from tests.web.conftest import Web

pytestmark = [pytest.mark.browser]

# (name, who signs in, path, the flag the page's module sets when it has drawn itself)
PAGES = [
    ("login", None, "/login.html", "ready"),
    ("client", None, "/client.html", "ready"),
    ("guest", None, "/guest.html", "ready"),
    ("counter", "caseworker_a", "/counter.html", "loaded"),
    ("interpreter", "interpreter", "/interpreter.html", "loaded"),
    ("admin", "admin", "/admin.html#users", "loaded"),
    ("outbox", "admin", "/outbox.html", "loaded"),
    ("preferences", "caseworker_a", "/preferences.html", "loaded"),
    ("manager", "manager", "/manager/?from=2025-01-01&to=2025-12-31", "loaded"),
]

# Runs before the page's own scripts: records every violation the document sees.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${where}`);
});
"""


def csp_messages(texts: list[str]) -> list[str]:
    return [t for t in texts if "content security policy" in t.lower()]


@pytest.mark.parametrize(("name", "who", "path", "flag"), PAGES, ids=[p[0] for p in PAGES])
async def test_page_renders_under_the_csp_without_violation(
    web: Web, world: World, ledger: Ledger, name: str, who: str | None, path: str, flag: str
) -> None:
    """The page is served with the strict policy, shows its main heading and triggers no CSP violation."""
    person = await web.person(who, enforce_csp=True)
    page = person.page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    await page.add_init_script(RECORD_VIOLATIONS)
    response = await page.goto(web.url(path))
    assert response is not None
    expected = MANAGER_CONTENT_SECURITY_POLICY if name == "manager" else CONTENT_SECURITY_POLICY
    assert response.headers["content-security-policy"] == expected
    # Selector waits, not wait_for_function: Playwright evaluates string predicates with eval, which the CSP forbids.
    await page.wait_for_selector(f"body[data-{flag}='1']", state="attached", timeout=60_000)
    heading = page.locator("main h1").first  # the client screen's heading is for screen readers only
    await heading.wait_for(state="attached")
    assert ((await heading.text_content()) or "").strip() != ""
    if name == "manager":  # plotly injects its own styles and draws SVG: the charts must show
        await page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=60_000)
    violations = await page.evaluate("window.__cspViolations")
    assert violations == []
    assert csp_messages(console) == []
    assert person.errors == []
