"""Sign-in, the role's home page, the language switch and the admin pages in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import PASSWORD, World
from tests.web.conftest import Web, axe_check, ready

pytestmark = pytest.mark.browser


async def test_login_sends_each_role_home_and_rejects_a_wrong_password(web: Web, world: World,
                                                                      artifacts_dir: Path) -> None:
    """A wrong password shows a German error; the right one lands the admin on the admin page."""
    person = await web.person(None)
    page = person.page
    await page.goto(web.url("/"))
    await ready(page)
    assert await page.evaluate("document.documentElement.lang") == "de"
    assert await axe_check(page, "login", artifacts_dir) == []
    await page.get_by_label("Benutzername").fill("admin")
    await page.get_by_label("Passwort").fill("wrong-password")
    await page.get_by_role("button", name="Anmelden").click()
    await page.get_by_role("alert").filter(has_text="falsch").wait_for()
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/admin.html")
    await ready(page, "loaded")


async def test_language_switch_turns_the_page_english_and_back(web: Web, world: World) -> None:
    """The header's switch reloads every text from the English catalog and sets lang=en."""
    page = (await web.person("admin")).page
    await page.goto(web.url("/admin.html"))
    await ready(page, "loaded")
    await page.get_by_role("heading", name="Verwaltung", exact=True).wait_for()
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Administration", exact=True).wait_for()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await page.get_by_role("button", name="Deutsch").click()
    await page.get_by_role("heading", name="Verwaltung", exact=True).wait_for()


async def test_admin_creates_an_office_a_user_a_language_and_sets_qualifications(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """Each admin section works by keyboard-reachable forms and passes axe."""
    person = await web.person("admin")
    page = person.page
    await page.goto(web.url("/admin.html#offices"))
    await ready(page, "loaded")
    assert await axe_check(page, "admin-offices", artifacts_dir) == []
    await page.get_by_label("Name", exact=True).fill("Sozialamt Erfurt")
    await page.get_by_label("Art").select_option("social_welfare_office")
    await page.locator("#office-form").get_by_role("button", name="Anlegen").click()
    await page.get_by_role("cell", name="Sozialamt Erfurt", exact=True).wait_for()

    await page.goto(web.url("/admin.html#users"))
    assert await axe_check(page, "admin-users", artifacts_dir) == []
    form = page.locator("#user-form")
    await form.get_by_label("Benutzername").fill("sb-neu")
    await form.get_by_label("Anzeigename").fill("Neue Kollegin")
    await form.get_by_label("Rolle").select_option("caseworker")
    await form.get_by_label("Dienststelle").select_option(label="Sozialamt Erfurt")
    await form.get_by_label("Passwort").fill("ein-langes-passwort")
    await form.get_by_role("button", name="Anlegen").click()
    await page.get_by_role("cell", name="Neue Kollegin", exact=True).wait_for()

    await page.goto(web.url("/admin.html#languages"))
    assert await axe_check(page, "admin-languages", artifacts_dir) == []
    form = page.locator("#language-form")
    await form.get_by_label("Code").fill("ti")
    await form.get_by_label("Name (deutsch)").fill("Tigrinya")
    await form.get_by_label("Name (englisch)").fill("Tigrinya")
    await form.get_by_label("Eigenbezeichnung").fill("ትግርኛ")
    await form.get_by_role("button", name="Anlegen").click()
    await page.get_by_role("cell", name="ትግርኛ", exact=True).wait_for()

    await page.goto(web.url("/admin.html#interpreters"))
    await page.get_by_role("button", name="Bearbeiten: Interpreter").click()
    assert await axe_check(page, "admin-interpreters", artifacts_dir) == []
    await page.get_by_role("button", name="Sprache hinzufügen").click()
    await page.locator("#qual-rows select[name=language_code]").last.select_option("ti")
    await page.locator("#qual-rows select[name=qualification]").last.select_option("sworn")
    await page.locator("#qual-form").get_by_role("button", name="Speichern").click()
    await page.get_by_role("cell", name="Tigrinya (beeidigt)", exact=False).wait_for()
    assert person.errors == []


async def test_a_deactivated_user_is_told_so_only_after_the_correct_password(web: Web, world: World) -> None:
    """A deactivated caseworker with a wrong password sees only the generic German refusal (a guess
    learns nothing about the account); with the correct password the page says in German that the
    account is deactivated, and the person stays on the sign-in page."""
    admin = await web.person("admin")
    target = world.users["caseworker_b"]
    changed = await admin.context.request.patch(web.url(f"/api/users/{target.id}"),
                                                headers=world.auth("admin"), data={"active": False})
    assert changed.ok, await changed.text()

    page = (await web.person(None)).page
    await page.goto(web.url("/"))
    await ready(page)
    alert = page.get_by_role("alert")
    await page.get_by_label("Benutzername").fill(target.username)
    await page.get_by_label("Passwort").fill("wrong-password-123")
    await page.get_by_role("button", name="Anmelden").click()
    await alert.filter(has_text="Benutzername oder Passwort falsch").wait_for()
    assert "deaktiviert" not in await alert.inner_text()

    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await alert.filter(has_text="Ihr Konto ist deaktiviert").wait_for()
    assert "falsch" not in await alert.inner_text()
    assert await alert.is_visible()
    assert await page.get_by_role("button", name="Anmelden").is_visible()
