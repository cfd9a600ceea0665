"""The notification preferences page: every role reaches it, choices and profile survive a reload."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking import service as booking_service
from broker.booking.schemas import BookingCreate
from broker.enums import Role
from broker.notification.kinds import Kind, kinds_for
from broker.notification.models import OutboxMessage
from broker.user.models import User
from tests.booking.conftest import at, booking_body, give_windows, working_day
from tests.conftest import LOADED_MACHINE_TIMEOUT, World
from tests.web.conftest import Web, axe_check, ready

pytestmark = pytest.mark.browser

WEB = Path(__file__).resolve().parents[2] / "web"
HOMES = {"caseworker_a": "/counter.html", "interpreter": "/interpreter.html", "manager": "/manager/",
         "admin": "/admin.html"}


def script_errors(errors: list[str]) -> list[str]:
    """Console errors from scripts; a 4xx the page handles (422, the manager's pending dashboard) is no error."""
    return [e for e in errors if not e.startswith("Failed to load resource")]


def test_every_notification_kind_has_a_label_and_an_explanation_in_both_catalogs() -> None:
    """The page builds its keys from the kinds, so each kind needs notify.kind.* and notify.hint.* texts."""
    for locale in ("de", "en"):
        messages = json.loads((WEB / "i18n" / f"{locale}.json").read_text(encoding="utf-8"))
        for kind in Kind:
            assert messages.get(f"notify.kind.{kind.value}"), (locale, kind)
            assert messages.get(f"notify.hint.{kind.value}"), (locale, kind)
        for status in ("pending", "sent", "failed"):
            assert messages.get(f"outbox.status.{status}"), (locale, status)


async def test_every_role_reaches_its_preferences_from_the_frame_navigation(
    web: Web, world: World, artifacts_dir: Path
) -> None:
    """From each role's home page the header links to the page, which lists exactly that role's kinds."""
    for username, home in HOMES.items():
        person = await web.person(username)
        page = person.page
        await page.goto(web.url(home))
        await ready(page)
        await page.get_by_role("navigation", name="Hauptnavigation").get_by_role(
            "link", name="Benachrichtigungen").click()
        await page.wait_for_url("**/preferences.html")
        await ready(page, "loaded")
        await page.get_by_role("heading", name="Benachrichtigungen", level=1).wait_for()
        link = page.get_by_role("link", name="Benachrichtigungen")
        assert await link.get_attribute("aria-current") == "page"
        shown = await page.locator("#kinds-list input[type=checkbox]").evaluate_all("boxes => boxes.map(b => b.name)")
        role = world.users[username].role
        assert shown == [k.value for k in kinds_for(role)], username
        if role is Role.MANAGER:
            await page.get_by_text("Für Ihre Rolle gibt es keine Benachrichtigungen per E-Mail.").wait_for()
        assert await axe_check(page, f"preferences-{username}", artifacts_dir) == []
        assert script_errors(person.errors) == [], username


async def test_choices_and_profile_survive_a_reload_and_an_opted_out_kind_writes_no_outbox_row(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession], artifacts_dir: Path
) -> None:
    """An unticked kind stays off after reload and its event mails only the other party; a bad address shows the 422."""
    caseworker, interpreter = world.users["caseworker_a"], world.users["interpreter"]
    person = await web.person("caseworker_a")
    page = person.page
    await page.goto(web.url("/preferences.html"))
    await ready(page, "loaded")

    await page.get_by_role("checkbox", name="Termin bestätigt", exact=True).uncheck()
    await page.get_by_role("button", name="Auswahl speichern").click()
    await page.get_by_text("Ihre Auswahl ist gespeichert.").wait_for()

    await page.get_by_label("E-Mail", exact=True).fill("not-an-address")
    email = page.locator("#pref-email")
    await page.get_by_role("button", name="Adresse und Sprache speichern").click()
    async with httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=web.server.url) as api:
        response = await api.patch("/api/users/me", json={"email": "not-an-address"},
                                   headers=world.auth("caseworker_a"))
    assert response.status_code == 422
    [issue] = [d for d in response.json()["detail"] if d["loc"][-1] == "email"]
    assert issue["type"] == "email_format"  # the server's code; the page says it in the reader's language
    error = page.locator("#pref-email-error")
    await error.filter(has_text="bitte eine gültige E-Mail-Adresse angeben").wait_for()
    assert await email.get_attribute("aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "pref-email"
    assert await axe_check(page, "preferences-invalid-email", artifacts_dir) == []

    await email.fill("sb.erfurt@example.org")
    await page.get_by_label("Sprache der Oberfläche und der E-Mails").select_option("en")
    await page.get_by_role("button", name="Adresse und Sprache speichern").click()
    await page.get_by_text("Address and language saved.").wait_for()
    assert await email.get_attribute("aria-invalid") is None

    await page.reload()
    await ready(page, "loaded")
    assert await page.evaluate("document.documentElement.lang") == "en"
    assert await page.get_by_label("E-mail", exact=True).input_value() == "sb.erfurt@example.org"
    assert await page.get_by_label("Language of the interface and the e-mails").input_value() == "en"
    assert not await page.get_by_role("checkbox", name="Booking confirmed", exact=True).is_checked()
    for kind in ("Booking cancelled", "Call-back ready", "Request not filled"):
        assert await page.get_by_role("checkbox", name=kind, exact=True).is_checked(), kind
    async with sessionmaker() as db:
        user = await db.get(User, caseworker.id)
        assert user is not None and (user.email, user.locale) == ("sb.erfurt@example.org", "en")

    # The event itself: a booking confirmed by the interpreter mails the interpreter, not the caseworker.
    async with sessionmaker() as db:
        await give_windows(db, interpreter.id)
        await db.commit()
        booking_in = BookingCreate.model_validate(booking_body(at(working_day(), 10)))
        booking = await booking_service.create(db=db, booking_in=booking_in, caseworker=caseworker,
                                               settings=web.server.app.state.settings)
        await db.commit()
        await booking_service.confirm(db=db, booking=booking, interpreter=interpreter)
        await db.commit()
        rows = (await db.execute(
            select(OutboxMessage.user_id, OutboxMessage.kind, func.count())
            .group_by(OutboxMessage.user_id, OutboxMessage.kind)
        )).all()
    assert sorted(rows) == sorted([(interpreter.id, "booking_assigned", 1), (interpreter.id, "booking_confirmed", 1)])
    assert script_errors(person.errors) == []
