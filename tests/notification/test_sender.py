"""The delivery loop against a real SMTP server: retries, outages, rejections, races, the log."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.app import create_app
from broker.config import Settings
from broker.enums import OutboxStatus
from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from broker.notification.models import OutboxMessage
from broker.notification.sender import OutboxSender, SenderOptions, backoff_seconds, run_once
from broker.notification.transport import SmtpTransport, make_transport
from tests.conftest import World
from tests.notification.conftest import FAST, SmtpServer, booking, drain, give_addresses, statuses


async def enqueue_many(db: AsyncSession, world: World, n: int, name: str = "interpreter") -> list[int]:
    ids = []
    for i in range(n):
        row_id = await notification_service.enqueue(db=db, user_id=world.users[name].id,
                                                    kind=Kind.REMINDER_DUE, payload=booking(world, booking_id=i + 1))
        assert row_id is not None
        ids.append(row_id)
    await db.commit()
    return ids


def test_backoff_doubles_and_is_capped() -> None:
    """The wait after each failed attempt doubles from the base and stops at the maximum."""
    options = SenderOptions(backoff_base_seconds=30, backoff_max_seconds=3600)
    assert [backoff_seconds(n, options) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


async def test_deferred_mails_arrive_exactly_once_after_retries(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """A server answering 451 a few times still gets each mail exactly once, and the tries are counted."""
    await give_addresses(db, world)
    ids = await enqueue_many(db, world, 3)
    smtp.sink.defer_next = 4
    await drain(sessionmaker, mail_settings)
    assert sorted(smtp.sink.by_id().values()) == [1, 1, 1]
    async with sessionmaker() as check:
        rows = (await check.execute(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))).scalars().all()
    assert all(r.status is OutboxStatus.SENT and r.last_error is None for r in rows)
    assert sum(r.attempts for r in rows) == 3 + 4


async def test_smtp_down_for_a_while_then_back_delivers(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """With the server unreachable the rows wait with an error; once it is back each arrives once."""
    await give_addresses(db, world)
    smtp.stop()
    await enqueue_many(db, world, 2)
    transport = make_transport(mail_settings)
    options = SenderOptions(backoff_base_seconds=0.05, backoff_max_seconds=0.1, max_attempts=100)
    for _ in range(3):
        await run_once(sessionmaker=sessionmaker, settings=mail_settings, transport=transport, options=options)
        await asyncio.sleep(0.1)  # the behaviour under test: the backoff passes, so the next run tries again
    async with sessionmaker() as check:
        rows = (await check.execute(select(OutboxMessage))).scalars().all()
    assert all(r.status is OutboxStatus.PENDING and r.attempts >= 2 and r.last_error for r in rows)
    smtp.start()
    await drain(sessionmaker, mail_settings, options)
    assert sorted(smtp.sink.by_id().values()) == [1, 1]
    assert set((await statuses(sessionmaker)).values()) == {OutboxStatus.SENT}


async def test_permanent_rejection_stops_and_shows_on_admin_endpoint(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer, client: httpx.AsyncClient,
) -> None:
    """A 550 for one recipient fails that row after one attempt; admins list it and can retry it."""
    await give_addresses(db, world)
    smtp.sink.refuse.add("caseworker_a@example.org")
    good = await enqueue_many(db, world, 1)
    bad = await enqueue_many(db, world, 1, name="caseworker_a")
    await drain(sessionmaker, mail_settings)
    assert await statuses(sessionmaker) == {good[0]: OutboxStatus.SENT, bad[0]: OutboxStatus.FAILED}
    assert len(smtp.sink.messages) == 1

    admin = world.auth("admin")
    listed = await client.get("/api/admin/outbox", params={"failures": "true"}, headers=admin)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["items"]
    assert row["id"] == bad[0] and row["status"] == "failed" and row["attempts"] == 1
    assert "550" in row["last_error"] and row["recipient"].endswith("<caseworker_a@example.org>")
    assert (await client.get("/api/admin/outbox", headers=world.auth("manager"))).status_code == 403

    smtp.sink.refuse.clear()
    retried = await client.post(f"/api/admin/outbox/{bad[0]}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    await drain(sessionmaker, mail_settings)
    assert len(smtp.sink.messages) == 2
    assert (await client.post(f"/api/admin/outbox/{bad[0]}/retry", headers=admin)).status_code == 409
    assert (await client.get("/api/admin/outbox", params={"failures": "true"}, headers=admin)).json()["total"] == 0


async def test_gives_up_after_max_attempts(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """A mail deferred on every try is marked failed after the maximum number of attempts."""
    await give_addresses(db, world)
    [row_id] = await enqueue_many(db, world, 1)
    smtp.sink.defer_next = 1000
    await drain(sessionmaker, mail_settings, FAST)
    async with sessionmaker() as check:
        row = await check.get(OutboxMessage, row_id)
    assert row is not None and row.status is OutboxStatus.FAILED and row.attempts == FAST.max_attempts
    assert row.last_error and "451" in row.last_error and smtp.sink.messages == []


async def test_concurrent_senders_deliver_each_mail_once(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    mail_settings: Settings, smtp: SmtpServer,
) -> None:
    """Three senders on their own connections racing over 30 rows send every mail exactly once."""
    await give_addresses(db, world)
    ids = await enqueue_many(db, world, 30)
    options = SenderOptions(batch_size=4, poll_seconds=0.02, lease_seconds=60)
    senders = [OutboxSender(sessionmaker=sessionmaker, settings=mail_settings, options=options).start()
               for _ in range(3)]
    try:
        for _ in range(500):
            if len(smtp.sink.messages) >= 30 and set((await statuses(sessionmaker)).values()) == {OutboxStatus.SENT}:
                break
            await asyncio.sleep(0.02)
    finally:
        await asyncio.gather(*(s.stop() for s in senders))
    counts = smtp.sink.by_id()
    assert len(counts) == len(ids) and set(counts.values()) == {1}
    assert set((await statuses(sessionmaker)).values()) == {OutboxStatus.SENT}


async def test_without_smtp_the_mail_goes_to_the_log_and_the_admin_page(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings, client: httpx.AsyncClient,
) -> None:
    """With no SMTP host a mail is marked sent and stored whole for the admin page, even without an address."""
    assert settings.smtp_host == ""
    [row_id] = await enqueue_many(db, world, 1)
    await drain(sessionmaker, settings)
    detail = await client.get(f"/api/admin/outbox/{row_id}", headers=world.auth("admin"))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["status"] == "sent" and body["subject"].startswith("Erinnerung: Dolmetschtermin Arabisch")
    assert "Content-Type: multipart/alternative" in body["rendered"] and body["recipient"] is None
    assert (await client.get("/api/admin/outbox/999999", headers=world.auth("admin"))).status_code == 404


async def test_the_app_runs_a_sender_in_its_lifespan(
    db: AsyncSession, world: World, mail_settings: Settings, smtp: SmtpServer, engine: object,
) -> None:
    """The app started with background work on delivers a committed notification by itself."""
    await give_addresses(db, world)
    await enqueue_many(db, world, 1)
    app = create_app(mail_settings.model_copy(update={"scheduler_enabled": True}))
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if smtp.sink.messages:
                break
            await asyncio.sleep(0.05)
    assert len(smtp.sink.messages) == 1


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_login_is_used_and_a_wrong_password_keeps_mails_waiting(
    db: AsyncSession, world: World, sessionmaker: async_sessionmaker[AsyncSession], mail_settings: Settings,
) -> None:
    """With user and password set the sender logs in; a refused login is retried, not dropped."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.conftest import free_port
    from tests.notification.conftest import SmtpSink

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      auth_data: object) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    sink, port = SmtpSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        await give_addresses(db, world)
        [row_id] = await enqueue_many(db, world, 1)
        wrong = mail_settings.model_copy(update={"smtp_port": port, "smtp_user": "vd", "smtp_password": "nope"})
        # aiosmtpd stalls after a refused login, so a short client timeout keeps this test quick
        await run_once(sessionmaker=sessionmaker, settings=wrong, transport=SmtpTransport(wrong, timeout=1.0),
                       options=FAST)
        async with sessionmaker() as check:
            row = await check.get(OutboxMessage, row_id)
        assert row is not None and row.status is OutboxStatus.PENDING and row.last_error and sink.messages == []
        right = wrong.model_copy(update={"smtp_password": "s3cret"})
        await drain(sessionmaker, right)
        assert len(sink.messages) == 1
    finally:
        controller.stop()
