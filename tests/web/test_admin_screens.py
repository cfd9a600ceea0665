"""The admin page as an admin sees it: an interpreter's weekly availability and absences edited on the page,
a new interpreter listed without a reload, errors under the form that caused them, deactivation only after
a confirmation and never of oneself, offices in German alphabetical order, and no sideways scrolling at
320 px or at 200 % zoom (admin sections and outbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.enums import OfficeKind
from broker.office.models import Office
from tests.conftest import World
from tests.web.conftest import Web, axe_check, ready

pytestmark = pytest.mark.browser
CATALOG = json.loads((Path(__file__).resolve().parents[2] / "web" / "i18n" / "de.json").read_text(encoding="utf-8"))


async def test_admin_edits_an_interpreters_availability_and_absences(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """From the interpreters' list the admin opens the availability editor (focus on its heading), adds a
    Tuesday window and saves it (the API holds it); a window ending before it starts shows the error right
    under that form and changes nothing; an absence is added and listed."""
    person = await web.person("admin")
    page = person.page
    interpreter = world.users["interpreter"].id
    await page.goto(web.url("/admin.html#interpreters"))
    await ready(page, "loaded")
    await page.get_by_role("button", name=f"{CATALOG['admin.availability']}: Interpreter").click()
    heading = page.get_by_role("heading", name=CATALOG["admin.availability_of"].format(name="Interpreter"))
    await heading.wait_for()
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'avail-h'")
    form = page.locator("#avail-form")
    await form.get_by_role("button", name=CATALOG["interp.window_add"]).click()
    await form.get_by_label(CATALOG["interp.weekday"]).last.select_option(label=CATALOG["weekday.1"])
    await form.get_by_label(CATALOG["interp.from"]).last.fill("09:00")
    await form.get_by_label(CATALOG["interp.to"]).last.fill("12:00")
    await form.get_by_role("button", name=CATALOG["action.save"]).click()
    status = page.locator("#avail-status")
    await status.get_by_text(CATALOG["admin.saved"]).wait_for()
    windows = await (await page.context.request.get(f"/api/interpreters/{interpreter}/availability")).json()
    assert windows == [{"weekday": 1, "start_time": "09:00:00", "end_time": "12:00:00"}]

    await form.get_by_label(CATALOG["interp.from"]).last.fill("13:00")
    await form.get_by_label(CATALOG["interp.to"]).last.fill("10:00")
    await form.get_by_role("button", name=CATALOG["action.save"]).click()
    await page.wait_for_function("document.querySelector('#avail-status').classList.contains('error')")
    text = await status.text_content()
    assert text and "Value error" not in text and CATALOG["admin.saved"] not in text, text
    save_box = await form.get_by_role("button", name=CATALOG["action.save"]).bounding_box()
    status_box = await status.bounding_box()
    assert save_box and status_box and 0 <= status_box["y"] - (save_box["y"] + save_box["height"]) < 80
    assert status_box["y"] + status_box["height"] <= 900 or await status.is_visible()
    windows = await (await page.context.request.get(f"/api/interpreters/{interpreter}/availability")).json()
    assert windows == [{"weekday": 1, "start_time": "09:00:00", "end_time": "12:00:00"}]

    absence = page.locator("#avail-absence-form")
    await absence.get_by_label(CATALOG["interp.absence_start"]).fill("2030-07-01")
    await absence.get_by_label(CATALOG["interp.absence_end"]).fill("2030-07-14")
    await absence.get_by_label(CATALOG["interp.absence_note"]).fill("Urlaub")
    await absence.get_by_role("button", name=CATALOG["interp.absence_add"]).click()
    await page.locator("#avail-absences li", has_text="Urlaub").wait_for()
    listed = await (await page.context.request.get(f"/api/interpreters/{interpreter}/absences")).json()
    assert [a["note"] for a in listed] == ["Urlaub"]
    assert await axe_check(page, "admin-availability", artifacts_dir) == []
    assert person.errors == [] or all("422" in e or "400" in e for e in person.errors), person.errors


async def test_new_interpreter_is_listed_at_once_and_errors_show_under_their_form(web: Web, world: World) -> None:
    """A new interpreter appears in the interpreters' list without a page load; creating a second user with
    the same name shows the error directly under the user form, not at the top of the page."""
    page = (await web.person("admin")).page
    await page.goto(web.url("/admin.html#users"))
    await ready(page, "loaded")
    await page.evaluate("window.samePage = true")
    form = page.locator("#user-form")

    async def create(username: str) -> None:
        await form.get_by_label(CATALOG["field.username"]).fill(username)
        await form.get_by_label(CATALOG["field.display_name"]).fill("Neue Dolmetscherin")
        await form.get_by_label(CATALOG["field.role"]).select_option("interpreter")
        await form.get_by_label(CATALOG["field.password"]).fill("ein-langes-passwort")
        await form.get_by_role("button", name=CATALOG["action.create"]).click()

    await create("dolmetscherin-neu")
    near = page.locator("#user-form + [data-form-status]")
    await near.get_by_text(CATALOG["admin.created"]).wait_for()
    await page.get_by_role("link", name=CATALOG["admin.interpreters"]).click()
    await page.locator("#interpreters-body").get_by_role("cell", name="Neue Dolmetscherin", exact=True).wait_for()
    assert await page.evaluate("window.samePage") is True

    await page.get_by_role("link", name=CATALOG["admin.users"]).click()
    await create("dolmetscherin-neu")
    await page.wait_for_function(
        "document.querySelector('#user-form + [data-form-status]').classList.contains('error')")
    assert await near.is_visible()
    form_box, near_box = await form.bounding_box(), await near.bounding_box()
    assert form_box and near_box and 0 <= near_box["y"] - (form_box["y"] + form_box["height"]) < 40
    assert await page.text_content("#admin-status") in ("", None)


async def test_deactivation_asks_first_and_nobody_deactivates_themselves(web: Web, world: World) -> None:
    """Dismissing the confirmation leaves the user active; accepting deactivates; the admin's own row offers
    no deactivation (and the server refuses it, see tests/broker/test_admin_api.py)."""
    page = (await web.person("admin")).page
    await page.goto(web.url("/admin.html#users"))
    await ready(page, "loaded")
    button = page.get_by_role("button", name=f"{CATALOG['action.deactivate']}: caseworker_b")
    messages: list[str] = []

    async def dismiss(dialog):  # type: ignore[no-untyped-def]
        messages.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await button.click()
    assert messages == [CATALOG["admin.confirm_deactivate"].format(name="caseworker_b")]
    user_id = world.users["caseworker_b"].id
    users = await (await page.context.request.get("/api/users?limit=100")).json()
    items = users["items"] if isinstance(users, dict) else users
    assert next(u for u in items if u["id"] == user_id)["active"] is True

    async def accept(dialog):  # type: ignore[no-untyped-def]
        await dialog.accept()

    page.once("dialog", accept)
    await button.click()
    await page.get_by_role("button", name=f"{CATALOG['action.activate']}: caseworker_b").wait_for()
    assert await page.get_by_role("button", name=f"{CATALOG['action.deactivate']}: admin").is_disabled()


async def test_offices_sort_in_german_alphabetical_order(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """"Landratsamt Sömmerda" comes before "Landratsamt Suhl" (collation, not code points)."""
    async with sessionmaker() as db:
        db.add_all([Office(name="Landratsamt Suhl", kind=OfficeKind.OTHER, district_ags="16051"),
                    Office(name="Landratsamt Sömmerda", kind=OfficeKind.OTHER, district_ags="16051")])
        await db.commit()
    page = (await web.person("admin")).page
    await page.goto(web.url("/admin.html#offices"))
    await ready(page, "loaded")
    names = await page.locator("#offices-body tr td:first-child").all_text_contents()
    assert names.index("Landratsamt Sömmerda") < names.index("Landratsamt Suhl"), names


@pytest.mark.parametrize(("width", "height"), [(320, 640), (640, 400)], ids=["320px", "zoom200"])
async def test_admin_and_outbox_do_not_scroll_sideways(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession], width: int, height: int
) -> None:
    """At 320 px and at 1280 px with 200 % zoom (640 CSS px) no admin section, the open availability editor
    or the outbox makes the page scroll sideways; wide tables scroll inside their own box."""
    async with sessionmaker() as db:
        db.add(Office(name="Landratsamt Kyffhäuserkreis Außenstelle Sondershausen Ausländerbehörde",
                      kind=OfficeKind.IMMIGRATION_OFFICE, district_ags="16051"))
        await db.commit()
    person = await web.person("admin")
    page = person.page
    await page.set_viewport_size({"width": width, "height": height})
    await page.goto(web.url("/admin.html#offices"))
    await ready(page, "loaded")
    for section in ("offices", "users", "languages", "interpreters"):
        await page.evaluate(f"location.hash = '#{section}'")
        await page.locator(f"#{section}").wait_for()
        if section == "interpreters":
            await page.get_by_role("button", name=f"{CATALOG['admin.availability']}: Interpreter").click()
            await page.locator("#avail-h").wait_for()
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, (section, scroll_width)
    await page.goto(web.url("/outbox.html"))
    await ready(page, "loaded")
    assert await page.evaluate("document.documentElement.scrollWidth") <= width
