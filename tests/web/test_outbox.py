"""The admin's e-mail delivery page: failures at a glance, retry, and reading a mail kept in log mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.enums import OutboxStatus
from broker.notification.models import OutboxMessage
from broker.notification.sender import SenderOptions, run_once
from broker.notification.transport import make_transport
from tests.conftest import World
from tests.web.conftest import Web, axe_check, ready

pytestmark = pytest.mark.browser

REJECTED = "550 5.1.1 <sb@example.org>: Recipient address rejected <b>unknown</b>"


def booking_payload(world: World) -> str:
    start = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
    return json.dumps({"booking_id": 41, "office_id": world.office_a.id, "language_code": "ar",
                       "purpose": "residence_permit", "start": start.isoformat(),
                       "end": (start + timedelta(hours=1)).isoformat()})


async def add_rows(sessionmaker: async_sessionmaker[AsyncSession], world: World) -> OutboxMessage:
    """One delivered mail to the interpreter and one permanently rejected mail to the caseworker."""
    now = datetime.now(UTC)
    async with sessionmaker() as db:
        db.add(OutboxMessage(created_at=now - timedelta(hours=2), user_id=world.users["interpreter"].id,
                             kind="booking_assigned", payload=booking_payload(world), status=OutboxStatus.SENT,
                             attempts=1, next_attempt_at=now, sent_at=now - timedelta(hours=2)))
        failed = OutboxMessage(created_at=now - timedelta(hours=1), user_id=world.users["caseworker_a"].id,
                               kind="booking_confirmed", payload=booking_payload(world),
                               status=OutboxStatus.FAILED, attempts=3, next_attempt_at=now, last_error=REJECTED,
                               recipient="Caseworker_A <sb@example.org>",
                               subject="Termin bestätigt: Arabisch, 04.03.2030")
        db.add(failed)
        await db.commit()
        return failed


async def test_admin_sees_a_failed_delivery_retries_it_and_reads_the_mail(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession], artifacts_dir: Path
) -> None:
    """A rejected mail shows error and attempts; retried, the log-mode sender delivers it and its text is readable."""
    failed = await add_rows(sessionmaker, world)
    person = await web.person("admin")
    page = person.page
    await page.goto(web.url("/admin.html"))
    await ready(page)
    await page.get_by_role("link", name="E-Mail-Versand").click()
    await page.wait_for_url("**/outbox.html")
    await ready(page, "loaded")
    await page.get_by_text("Zustellprobleme: 1.").wait_for()
    assert await page.locator("#outbox-body tr").count() == 2
    # The interpreter has no e-mail address: that mail went to the log only, and the row says so, not "versandt".
    logged = page.locator("#outbox-body tr[data-status='sent']")
    assert "keine E-Mail-Adresse" in await logged.inner_text()
    assert "versandt" not in await logged.inner_text()

    await page.get_by_label("Nur Probleme").check()
    await page.get_by_role("button", name="Anzeigen", exact=True).click()
    await page.wait_for_function("document.querySelectorAll('#outbox-body tr').length === 1")
    row = page.locator(f"#outbox-body tr[data-id='{failed.id}']")
    assert "fehlgeschlagen" in await row.inner_text()
    assert await row.locator("td").nth(5).inner_text() == "3"
    # The server's error text is shown as text: its markup is never parsed.
    assert await row.locator("td").nth(6).inner_text() == REJECTED
    assert await row.locator("b").count() == 0
    assert await axe_check(page, "outbox-failures", artifacts_dir) == []

    await page.get_by_role("button", name=f"Nachricht Nr. {failed.id} öffnen").click()
    detail = page.locator("#outbox-detail")
    await detail.get_by_role("heading", name=f"Nachricht Nr. {failed.id}").wait_for()
    assert await page.evaluate("document.activeElement.id") == "detail-h"
    await detail.get_by_text("Kein gespeicherter Text").wait_for()
    assert '"booking_id": 41' in await page.locator("#detail-payload").inner_text()

    await detail.get_by_role("button", name="Erneut senden").click()
    await page.get_by_text(f"Nachricht Nr. {failed.id} wird erneut gesendet.").wait_for()
    assert await page.locator("#detail-facts [data-field='field.status']").inner_text() == "wartet"
    assert await page.locator("#detail-facts [data-field='outbox.attempts']").inner_text() == "0"

    # The embedded default has no SMTP host: one sender round writes the mail to the log and the row.
    settings = web.server.app.state.settings
    assert not settings.smtp_host
    await run_once(sessionmaker=sessionmaker, settings=settings, transport=make_transport(settings),
                   options=SenderOptions())
    await page.get_by_label("Nur Probleme").uncheck()
    await page.get_by_label("Status").select_option("sent")
    await page.get_by_role("button", name="Anzeigen", exact=True).click()
    await page.wait_for_function("document.querySelectorAll('#outbox-body tr').length === 2")
    await page.get_by_text("Keine Zustellprobleme.").wait_for()
    await page.get_by_role("button", name=f"Nachricht Nr. {failed.id} öffnen").click()
    mail = page.locator("#detail-text")
    await mail.filter(has_text="Der Dolmetschtermin ist bestätigt.").wait_for()
    text = await mail.inner_text()
    assert text.startswith("Guten Tag Caseworker_A,")
    assert "Ausländerbehörde Erfurt" in text and "Aufenthaltstitel" in text
    assert "=C3" not in text  # quoted-printable decoded
    assert not await detail.get_by_role("button", name="Erneut senden").is_visible()
    assert await axe_check(page, "outbox-mail", artifacts_dir) == []

    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="E-mail delivery", level=1).wait_for()
    # Caseworker_A has no e-mail address either: the log holds the mail, nobody received it.
    await page.locator("#detail-facts [data-field='field.status']").filter(
        has_text="not delivered – no e-mail address").wait_for()
    assert await axe_check(page, "outbox-mail-en", artifacts_dir) == []
    assert [e for e in person.errors if not e.startswith("Failed to load resource")] == []
