"""How a built mail leaves the process: SMTP (aiosmtplib), or the log when no SMTP host is set.

A transport raises `PermanentFailure` when retrying cannot help (the server refused this
recipient or this message with a 5xx reply) and `TemporaryFailure` for everything else
(server down, timeouts, 4xx replies, and 5xx replies to the connection, EHLO, AUTH or MAIL FROM,
which mean a configuration problem that affects every mail and that an admin fixes).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from broker.config import Settings

log = logging.getLogger("broker.notification.mail")

SMTP_TIMEOUT_SECONDS = 30.0


class DeliveryError(Exception):
    pass


class PermanentFailure(DeliveryError):
    """Retrying cannot help: the row is marked failed."""


class TemporaryFailure(DeliveryError):
    """Worth another attempt later (with back-off)."""


class Transport(Protocol):
    # True: the rendered message is stored on the outbox row for the admin page.
    keeps_copy: bool
    # True: a user without an e-mail address cannot get this mail (a permanent failure).
    needs_address: bool

    async def send(self, message: EmailMessage) -> None: ...


class LogTransport:
    """The embedded default: write the mail to the log; the sender stores it for the admin page."""

    keeps_copy = True
    needs_address = False

    async def send(self, message: EmailMessage) -> None:
        log.info("mail (no SMTP host configured) to %s: %s [%s]",
                 message.get("To", "(no address)"), message["Subject"], message["Message-ID"])


class SmtpTransport:
    """One SMTP connection per mail, with STARTTLS or implicit TLS and optional login."""

    keeps_copy = False
    needs_address = True

    def __init__(self, settings: Settings, *, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
        self.settings = settings
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                use_tls=s.smtp_tls,
                # STARTTLS is required when asked for; never attempted on an implicit-TLS port.
                start_tls=False if s.smtp_tls else s.smtp_starttls,
                username=s.smtp_user or None,
                password=s.smtp_password or None,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {text}") from exc
            raise TemporaryFailure(f"recipient deferred: {text}") from exc
        except (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError) as exc:
            message_text = f"{exc.code} {exc.message}"
            if exc.code >= 500:
                raise PermanentFailure(f"refused: {message_text}") from exc
            raise TemporaryFailure(f"deferred: {message_text}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise TemporaryFailure(f"server said {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from exc


def make_transport(settings: Settings) -> Transport:
    return SmtpTransport(settings) if settings.smtp_host else LogTransport()
