"""The delivery loop: claim due outbox rows, build and send each mail, record the outcome.

Delivery is **at least once**. A round works in three short transactions, never holding one
open while talking to the mail server (on SQLite every transaction holds the write lock):

1. *claim*: pick due rows (`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
   instances never pick the same row; on SQLite the conditional UPDATE below is the guard,
   and BEGIN IMMEDIATE serialises claimers), then `UPDATE … SET attempts = attempts + 1,
   next_attempt_at = now + lease WHERE status = 'pending' AND next_attempt_at <= now`.
   The claim is a lease: if the process dies, the row becomes due again when the lease ends.
2. *send* outside any transaction.
3. *record*: sent; or due again after an exponential back-off; or failed for good after a
   permanent 5xx rejection or after `max_attempts`. A failure is recorded only if the row
   still carries this claim's attempt number, so a sender whose lease ran out cannot push
   back a newer claim; a success is always recorded (the mail did go out).

A crash after the server accepted a mail but before step 3 committed sends it again after the
lease: the only duplicate that cannot be avoided without the server's help. The re-sent mail
is identical (same Message-ID, same iCalendar UID/SEQUENCE), so mail and calendar clients
treat it as the same message.

Run standalone with `python -m broker.notification.sender` (settings from `VD_*`), or inside
the app, whose lifespan starts one `OutboxSender`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.config import Settings, get_settings
from broker.database import make_engine, make_sessionmaker, utcnow
from broker.enums import OutboxStatus
from broker.language.models import Language, Purpose
from broker.live.runtime import Runtime
from broker.notification.kinds import Kind
from broker.notification.mail import LOCALES, MailContext, build_message
from broker.notification.models import OutboxMessage
from broker.notification.transport import (
    DeliveryError,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    make_transport,
)
from broker.office.models import Office
from broker.user.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderOptions:
    poll_seconds: float = 2.0
    batch_size: int = 20
    lease_seconds: float = 120.0  # longer than one SMTP exchange (timeout 30 s)
    max_attempts: int = 12  # with the defaults: about 16 hours of trying
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0


def backoff_seconds(attempts: int, options: SenderOptions) -> float:
    """Wait after the `attempts`-th failed attempt: base · 2^(attempts−1), capped."""
    return min(options.backoff_max_seconds, options.backoff_base_seconds * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Claim:
    id: int
    attempts: int  # the attempt number this claim owns (the fence for recording)


async def claim_due(
    *, db: AsyncSession, now: datetime, options: SenderOptions
) -> list[Claim]:
    """Lease up to `batch_size` due rows to this sender; the caller commits."""
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(options.batch_size)
    )
    if db.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await db.execute(due)).scalars())
    if not ids:
        return []
    claimed = await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + timedelta(seconds=options.lease_seconds),
        )
        .returning(OutboxMessage.id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    return sorted((Claim(id=i, attempts=a) for i, a in claimed.all()), key=lambda c: c.id)


async def build(
    *, db: AsyncSession, message_id: int, transport: Transport, settings: Settings
) -> EmailMessage:
    """The mail for one outbox row, names resolved in the recipient's language."""
    row = await db.get(OutboxMessage, message_id)
    user = await db.get(User, row.user_id) if row else None
    if row is None or user is None:
        raise PermanentFailure("outbox row or user vanished")
    if not user.email and transport.needs_address:
        raise PermanentFailure("the user has no e-mail address")
    payload = json.loads(row.payload)
    locale = user.locale if user.locale in LOCALES else "de"
    language = await db.get(Language, payload["language_code"])
    purpose = await db.get(Purpose, payload["purpose"])
    office = await db.get(Office, payload["office_id"])
    ctx = MailContext(
        outbox_id=row.id,
        created_at=row.created_at,
        kind=Kind(row.kind),
        payload=payload,
        locale=locale,
        recipient_name=user.display_name,
        recipient_email=user.email,
        recipient_role=user.role.value,
        language=(getattr(language, f"name_{locale}") if language else payload["language_code"]),
        purpose=(getattr(purpose, f"name_{locale}") if purpose else payload["purpose"]),
        office=office.name if office else f"#{payload['office_id']}",
    )
    return build_message(ctx, settings=settings)


async def record(
    *,
    db: AsyncSession,
    claim: Claim,
    message: EmailMessage | None,
    error: DeliveryError | None,
    keep_copy: bool,
    options: SenderOptions,
    now: datetime,
) -> OutboxStatus:
    """Write the outcome of one attempt; the caller commits. Returns the row's new status."""
    mine = (
        OutboxMessage.id == claim.id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    if error is None and message is not None:
        await db.execute(
            update(OutboxMessage)
            .where(*mine)
            .values(
                status=OutboxStatus.SENT,
                sent_at=now,
                last_error=None,
                recipient=str(message.get("To", "")) or None,
                subject=str(message["Subject"])[:300],
                rendered=message.as_string() if keep_copy else None,
            )
            .execution_options(synchronize_session=False)
        )
        return OutboxStatus.SENT
    text = str(error)[:2000] if error else "unknown error"
    final = isinstance(error, PermanentFailure) or claim.attempts >= options.max_attempts
    values: dict[str, object] = {"last_error": text}
    if final:
        values["status"] = OutboxStatus.FAILED
    else:
        values["next_attempt_at"] = now + timedelta(seconds=backoff_seconds(claim.attempts, options))
    if message is not None:
        values["subject"] = str(message["Subject"])[:300]
        values["recipient"] = str(message.get("To", "")) or None
    await db.execute(
        update(OutboxMessage)
        .where(*mine, OutboxMessage.attempts == claim.attempts)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return OutboxStatus.FAILED if final else OutboxStatus.PENDING


async def run_once(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    transport: Transport,
    options: SenderOptions,
) -> int:
    """One round: claim, send, record. Returns how many rows it claimed."""
    built: list[tuple[Claim, EmailMessage | DeliveryError]] = []
    async with sessionmaker() as db:
        claims = await claim_due(db=db, now=utcnow(), options=options)
        for claim in claims:
            try:
                built.append((claim, await build(db=db, message_id=claim.id, transport=transport,
                                                 settings=settings)))
            except DeliveryError as exc:
                built.append((claim, exc))
            except Exception as exc:  # a bug or bad data: keep the row, retry with back-off
                log.exception("outbox %s: building the mail failed", claim.id)
                built.append((claim, TemporaryFailure(f"building the mail failed: {exc!r}")))
        await db.commit()
    for claim, item in built:
        message = item if isinstance(item, EmailMessage) else None
        error = item if isinstance(item, DeliveryError) else None
        if message is not None:
            try:
                await transport.send(message)
            except DeliveryError as exc:
                error = exc
            except Exception as exc:
                log.exception("outbox %s: sending failed unexpectedly", claim.id)
                error = TemporaryFailure(repr(exc))
        async with sessionmaker() as db:
            status = await record(db=db, claim=claim, message=message, error=error,
                                  keep_copy=transport.keeps_copy, options=options, now=utcnow())
            await db.commit()
        if error is None:
            log.info("outbox %s sent (attempt %s)", claim.id, claim.attempts)
        else:
            log.warning("outbox %s attempt %s: %s → %s", claim.id, claim.attempts, error, status.value)
    return len(claims)


class OutboxSender:
    """The delivery loop as a task of the running event loop (the app's lifespan owns one)."""

    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: Transport | None = None,
        options: SenderOptions | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.transport = transport or make_transport(settings)
        self.options = options or SenderOptions()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> OutboxSender:
        self._task = asyncio.create_task(self.run(), name="outbox-sender")
        return self

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = await run_once(sessionmaker=self.sessionmaker, settings=self.settings,
                                         transport=self.transport, options=self.options)
            except Exception:
                log.exception("outbox sender round failed; trying again")
                claimed = 0
            if claimed >= self.options.batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.options.poll_seconds)

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the current mail if quick; otherwise cancel (its lease makes it due again)."""
        self._stop.set()
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def start(runtime: Runtime) -> None:
    """Start the app's sender, unless background work (`VD_SCHEDULER_ENABLED`) or the sender
    itself (`VD_OUTBOX_SENDER_ENABLED`, e.g. when a separate sender process runs) is switched off."""
    settings = runtime.settings
    if settings.scheduler_enabled and settings.outbox_sender_enabled:
        runtime.outbox = OutboxSender(sessionmaker=runtime.sessionmaker, settings=settings).start()


async def stop(runtime: Runtime) -> None:
    if runtime.outbox is not None:
        await runtime.outbox.stop()


async def _main(options: SenderOptions, once: bool) -> None:
    settings = get_settings()
    engine = make_engine(settings)
    sessionmaker = make_sessionmaker(engine)
    try:
        if once:
            await run_once(sessionmaker=sessionmaker, settings=settings,
                           transport=make_transport(settings), options=options)
        else:
            await OutboxSender(sessionmaker=sessionmaker, settings=settings, options=options).run()
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    defaults = SenderOptions()
    parser = argparse.ArgumentParser(description="Deliver the notification outbox (settings from VD_*).")
    parser.add_argument("--once", action="store_true", help="run one round and exit")
    for field in ("poll_seconds", "lease_seconds", "backoff_base_seconds", "backoff_max_seconds"):
        parser.add_argument(f"--{field.replace('_', '-')}", type=float, default=getattr(defaults, field))
    for field in ("batch_size", "max_attempts"):
        parser.add_argument(f"--{field.replace('_', '-')}", type=int, default=getattr(defaults, field))
    args = parser.parse_args(argv)
    options = SenderOptions(**{k: v for k, v in vars(args).items() if k != "once"})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(options, args.once))


if __name__ == "__main__":
    main()
