"""Build the e-mail for one outbox row: plain text + simple HTML, and an .ics for bookings.

Pure functions, no I/O besides reading the catalogs. Texts come from `catalog/{de,en}.json`
in the recipient's language. A mail names language, office, purpose and time — never anything
about the client. Booking mails carry an iCalendar object (METHOD REQUEST or CANCEL) whose UID
is stable per booking, so the recipient's calendar adds, then updates or removes, one event.
Everything that goes into the message comes from the outbox row, so a retried mail is
byte-for-byte the same (same Message-ID, same DTSTAMP) and receivers can drop duplicates.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

from broker.config import Settings
from broker.notification.kinds import Kind, booking_times, spec

BERLIN = ZoneInfo("Europe/Berlin")
LOCALES = ("de", "en")
CATALOG_DIR = Path(__file__).parent / "catalog"
PRODID = "-//Thüringer Programm des Videodolmetschens//Videodolmetschen//DE"


@dataclass(frozen=True)
class MailContext:
    """What one mail needs: the outbox row's facts plus names resolved in the user's language."""

    outbox_id: int
    created_at: datetime
    kind: Kind
    payload: dict[str, Any]
    locale: str
    recipient_name: str
    recipient_email: str | None
    language: str
    office: str
    purpose: str
    recipient_role: str = ""  # a kind may word its mail differently per role (see the catalogs)


@lru_cache
def catalog(locale: str) -> dict[str, Any]:
    name = locale if locale in LOCALES else "de"
    data: dict[str, Any] = json.loads((CATALOG_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def sender_domain(settings: Settings) -> str:
    _, address = parseaddr(settings.smtp_sender)
    domain = address.rpartition("@")[2]
    return domain or urlsplit(settings.public_base_url).hostname or "localhost"


def booking_uid(booking_id: int, base_url: str) -> str:
    """The iCalendar UID of a booking: the same in every mail about it, for every recipient, and
    in the interpreter's feed, so a calendar that has both shows the booking once."""
    return f"booking-{booking_id}@{urlsplit(base_url).hostname or 'videodolmetschen'}"


def calendar_status(booking_status: str | None, method: str) -> str:
    """STATUS of the booking's event: cancelled, tentative while nobody has confirmed, else confirmed.
    The mails and the feed both ask here."""
    if method == "CANCEL" or booking_status in ("cancelled", "escalated", "no_show"):
        return "CANCELLED"
    return "TENTATIVE" if booking_status in (None, "requested") else "CONFIRMED"


def event_summary(*, language: str, office: str, locale: str) -> str:
    """The event's title: the appointment itself, not the subject of the mail that carried it."""
    return str(catalog(locale)["common"]["event_summary"]).format(language=language, office=office)


def message_id(outbox_id: int, created_at: datetime, settings: Settings) -> str:
    """A Message-ID fixed per outbox row, so a re-sent mail is recognisably the same mail."""
    stamp = created_at.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return f"<vd.outbox.{outbox_id}.{stamp}@{sender_domain(settings)}>"


def _slot(start: datetime, end: datetime, locale: str) -> tuple[str, str]:
    """(long slot text for the body, short date for the subject) in Europe/Berlin time."""
    s, e = start.astimezone(BERLIN), end.astimezone(BERLIN)
    words = catalog(locale)["common"]
    long = words["slot"].format(
        date=format_date(s, "full", locale=locale),
        start=format_time(s, "HH:mm", locale=locale),
        end=format_time(e, "HH:mm", locale=locale),
    )
    short = f"{format_date(s, 'medium', locale=locale)}, {format_time(s, 'HH:mm', locale=locale)}"
    return long, short


def _texts(ctx: MailContext) -> tuple[str, list[str], list[tuple[str, str]], str | None]:
    """(subject, paragraphs, facts as label/value, calendar note) in the user's language."""
    words = catalog(ctx.locale)
    common, texts = words["common"], words["kinds"][ctx.kind.value]
    texts = {**texts, **texts.get("roles", {}).get(ctx.recipient_role, {})}
    times = booking_times(ctx.payload)
    slot, date = _slot(*times, ctx.locale) if times else ("", "")
    values = {"language": ctx.language, "office": ctx.office, "purpose": ctx.purpose, "date": date}
    subject = texts["subject"].format(**values)
    lines = [line.format(**values) for line in texts["lines"]]
    facts = [(common["language"], ctx.language), (common["office"], ctx.office),
             (common["purpose"], ctx.purpose)]
    if times:
        facts.append((common["time"], slot))
    if ctx.payload.get("waited_seconds") is not None:
        minutes = max(1, round(int(ctx.payload["waited_seconds"]) / 60))
        facts.append((common["waited"], common["waited_value"].format(minutes=minutes)))
    ref = ctx.payload.get("booking_id") or ctx.payload.get("request_id")
    facts.append((common["reference"], f"#{ref}"))
    method = spec(ctx.kind).ics
    note = None
    if method and times and ctx.payload.get("calendar", True):
        note = common["calendar_request" if method == "REQUEST" else "calendar_cancel"]
    return subject, lines, facts, note


def render_text(ctx: MailContext, *, link: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the mail."""
    common = catalog(ctx.locale)["common"]
    subject, lines, facts, note = _texts(ctx)
    greeting = common["greeting"].format(name=ctx.recipient_name)
    width = max(len(label) for label, _ in facts) + 1
    plain_parts = [greeting, "", *lines, ""]
    plain_parts += [f"{label + ':':<{width}} {value}" for label, value in facts]
    if note:
        plain_parts += ["", note]
    plain_parts += ["", f"{common['open']}: {link}", "", common["closing"], "", "-- ", common["footer"], ""]
    plain = "\n".join(plain_parts)

    e = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{e(label)}</th><td>{e(value)}</td></tr>'
        for label, value in facts
    )
    paragraphs = "".join(f"<p>{e(line)}</p>" for line in lines)
    closing = "<br>".join(e(line) for line in common["closing"].splitlines())
    body = (
        f'<!DOCTYPE html><html lang="{e(ctx.locale)}"><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.4;color:#1a1a1a">'
        f"<p>{e(greeting)}</p>{paragraphs}<table>{rows}</table>"
        + (f"<p>{e(note)}</p>" if note else "")
        + f'<p><a href="{e(link, quote=True)}">{e(common["open"])}</a></p>'
        f'<p>{closing}</p><hr><p style="font-size:small;color:#555">{e(common["footer"])}</p>'
        "</body></html>\n"
    )
    return subject, plain, body


def _berlin_vtimezone() -> Timezone:
    """A compact VTIMEZONE for Europe/Berlin (EU rules since 1996), as calendar servers emit it."""
    tz = Timezone()
    tz.add("tzid", "Europe/Berlin")
    daylight = TimezoneDaylight()
    daylight.add("dtstart", datetime(1970, 3, 29, 2, 0))
    daylight.add("rrule", {"freq": "yearly", "bymonth": 3, "byday": "-1su"})
    daylight.add("tzoffsetfrom", datetime(2000, 1, 1, tzinfo=BERLIN).utcoffset())
    daylight.add("tzoffsetto", datetime(2000, 7, 1, tzinfo=BERLIN).utcoffset())
    daylight.add("tzname", "CEST")
    standard = TimezoneStandard()
    standard.add("dtstart", datetime(1970, 10, 25, 3, 0))
    standard.add("rrule", {"freq": "yearly", "bymonth": 10, "byday": "-1su"})
    standard.add("tzoffsetfrom", datetime(2000, 7, 1, tzinfo=BERLIN).utcoffset())
    standard.add("tzoffsetto", datetime(2000, 1, 1, tzinfo=BERLIN).utcoffset())
    standard.add("tzname", "CET")
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def render_ics(ctx: MailContext, *, settings: Settings, link: str) -> bytes | None:
    """The iCalendar object of a booking mail (None for kinds without one, or for a recipient
    whose calendar never had the booking)."""
    method = spec(ctx.kind).ics
    times = booking_times(ctx.payload)
    if method is None or times is None or not ctx.payload.get("calendar", True):
        return None
    start, end = times
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    cal.add_component(_berlin_vtimezone())
    event = Event()
    event.add("uid", booking_uid(int(ctx.payload["booking_id"]), settings.public_base_url))
    # The booking's version: it rises with every change, and the feed shows the same number.
    event.add("sequence", int(ctx.payload.get("sequence", 0)))
    event.add("dtstamp", ctx.created_at.astimezone(UTC))
    event.add("dtstart", start.astimezone(BERLIN))
    event.add("dtend", end.astimezone(BERLIN))
    event.add("summary", event_summary(language=ctx.language, office=ctx.office, locale=ctx.locale))
    event.add("location", link)
    event.add("description", f"{ctx.purpose} — {ctx.office}\n{link}")
    event.add("status", calendar_status(ctx.payload.get("status"), method))
    event.add("transp", "OPAQUE")
    _, organizer_address = parseaddr(settings.smtp_sender)
    organizer = vCalAddress(f"mailto:{organizer_address}")
    organizer.params["cn"] = "Videodolmetschen"
    event.add("organizer", organizer)
    if ctx.recipient_email:
        attendee = vCalAddress(f"mailto:{ctx.recipient_email}")
        attendee.params["cn"] = ctx.recipient_name
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["rsvp"] = "FALSE"
        event.add("attendee", attendee)
    cal.add_component(event)
    data: bytes = cal.to_ical()
    return data


def build_message(ctx: MailContext, *, settings: Settings) -> EmailMessage:
    """The complete MIME message for one outbox row."""
    link = settings.public_base_url.rstrip("/") + "/"
    subject, plain, body = render_text(ctx, link=link)
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    if ctx.recipient_email:
        message["To"] = Address(display_name=ctx.recipient_name, addr_spec=ctx.recipient_email)
    message["Subject"] = subject
    message["Date"] = format_datetime(ctx.created_at.astimezone(UTC))
    message["Message-ID"] = message_id(ctx.outbox_id, ctx.created_at, settings)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Videodolmetschen-Kind"] = ctx.kind.value
    message.set_content(plain, subtype="plain", charset="utf-8")
    message.add_alternative(body, subtype="html", charset="utf-8")
    ics = render_ics(ctx, settings=settings, link=link)
    if ics is not None:
        method = spec(ctx.kind).ics or "REQUEST"
        ref = ctx.payload["booking_id"]
        message.add_attachment(
            ics.decode("utf-8"), subtype="calendar", charset="utf-8",
            filename=f"termin-{ref}.ics" if ctx.locale == "de" else f"booking-{ref}.ics",
            params={"method": method},
        )
    # Fixed boundaries (random by default) keep a re-sent mail identical to the first copy.
    for number, part in enumerate(p for p in message.walk() if p.is_multipart()):
        part.set_boundary(f"=_vd.{ctx.outbox_id}.{number}_=")
    message["Content-Language"] = ctx.locale  # after the parts: set_content drops Content-* headers
    return message
