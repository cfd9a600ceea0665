"""A real SMTP server on loopback (aiosmtpd) that records, defers, refuses or stalls mails."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings
from broker.enums import OutboxStatus
from broker.notification.models import OutboxMessage
from broker.notification.sender import SenderOptions, run_once
from broker.notification.transport import make_transport
from broker.user.models import User
from tests.conftest import World, free_port

# Fast back-off so retry tests take milliseconds; a short lease so crash tests recover quickly.
FAST = SenderOptions(poll_seconds=0.05, batch_size=20, lease_seconds=30.0, max_attempts=5,
                     backoff_base_seconds=0.01, backoff_max_seconds=0.05)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 10:00 in Erfurt (CET)
SUMMER_START = datetime(2026, 7, 6, 8, 30, tzinfo=UTC)  # Monday 10:30 in Erfurt (CEST)


@dataclass
class SmtpSink:
    """aiosmtpd handler: what the server received, and switches for how it answers."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550
    defer_next: int = 0  # answer this many RCPTs with 451, then accept
    stall: threading.Event | None = None  # if given: hold RCPT until the event is set
    stall_data: threading.Event | None = None  # if given: record the mail, then hold the 250 reply
    stalled: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.stall is not None:
            self.stalled.set()
            while not self.stall.is_set():
                await asyncio.sleep(0.02)
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        if self.defer_next > 0:
            self.defer_next -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.stall_data is not None:
            self.stalled.set()
            while not self.stall_data.is_set():
                await asyncio.sleep(0.02)
        return "250 2.0.0 accepted"

    def by_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message["Message-ID"]] = counts.get(message["Message-ID"], 0) + 1
        return counts


@dataclass
class SmtpServer:
    sink: SmtpSink
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(sink=SmtpSink(), port=free_port())
    server.start()
    try:
        yield server
    finally:
        for gate in (server.sink.stall, server.sink.stall_data):
            if gate is not None:
                gate.set()
        server.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:
    return settings.model_copy(update={
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False, "smtp_tls": False,
        "smtp_sender": "Videodolmetschen <noreply@vd.example>", "public_base_url": "https://vd.example",
    })


async def give_addresses(db: AsyncSession, world: World, *, english: tuple[str, ...] = ()) -> None:
    """Every world user gets `<name>@example.org`; the named ones read English."""
    for name, user in world.users.items():
        await db.execute(update(User).where(User.id == user.id).values(
            email=f"{name}@example.org", locale="en" if name in english else "de"))
    await db.commit()


def booking(world: World, booking_id: int = 7, start: datetime = START, minutes: int = 60) -> dict[str, Any]:
    return {"booking_id": booking_id, "office_id": world.office_a.id, "language_code": "ar",
            "purpose": "residence_permit", "start": start.isoformat(),
            "end": (start + timedelta(minutes=minutes)).isoformat()}


async def drain(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                options: SenderOptions = FAST, rounds: int = 200) -> None:
    """Run sender rounds until nothing is pending (back-off waits included)."""
    transport = make_transport(settings)
    for _ in range(rounds):
        await run_once(sessionmaker=sessionmaker, settings=settings, transport=transport, options=options)
        async with sessionmaker() as db:
            pending = await db.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.PENDING))
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("outbox did not drain")


async def statuses(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, OutboxStatus]:
    async with sessionmaker() as db:
        rows = await db.execute(select(OutboxMessage.id, OutboxMessage.status))
        return {i: s for i, s in rows.all()}
