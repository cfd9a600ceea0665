"""The notification kinds, who may receive each, and the payload schema a producer passes.

A payload carries ids and non-personal facts only: the booking or request id, the office, the
language, the purpose and the times. Nothing about the client (there is no client data in the
product), and no free text (a caseworker's note could hold personal data), which is why every
payload model forbids extra fields. Names (office, language, purpose) are looked up when the
mail is built, in the recipient's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from broker.enums import Role

IcsMethod = Literal["REQUEST", "CANCEL"]


class Kind(StrEnum):
    BOOKING_ASSIGNED = "booking_assigned"
    BOOKING_CONFIRMED = "booking_confirmed"
    BOOKING_DECLINED = "booking_declined"  # to the interpreter who declined
    BOOKING_WITHDRAWN = "booking_withdrawn"  # to the caseworker: the confirmed person withdrew
    BOOKING_UNASSIGNED = "booking_unassigned"  # to the caseworker: nobody could be found
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_LATE_CANCELLED = "booking_late_cancelled"
    REMINDER_DUE = "reminder_due"
    NO_SHOW_ESCALATED = "no_show_escalated"
    CALLBACK_READY = "callback_ready"
    REQUEST_UNFILLED = "request_unfilled"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    office_id: int = Field(ge=1)
    language_code: str = Field(min_length=1, max_length=16)
    purpose: str = Field(min_length=1, max_length=40)


class BookingPayload(_Payload):
    """Every booking kind: the booking (a request with mode `booked`) and its slot in UTC."""

    booking_id: int = Field(ge=1)
    start: AwareDatetime
    end: AwareDatetime
    # The booking's version when the event happened: the iCalendar SEQUENCE of mails and feed.
    sequence: int = Field(default=0, ge=0)
    status: str | None = Field(default=None, max_length=20)  # the booking's status then
    # False: this recipient never got the booking for their calendar, so no .ics (no stray CANCEL).
    calendar: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> BookingPayload:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class RequestPayload(_Payload):
    """On-demand kinds: the request and, for `request_unfilled`, how long it waited."""

    request_id: int = Field(ge=1)
    waited_seconds: int | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    payload: type[_Payload]
    roles: tuple[Role, ...]  # who may receive it (and sees it in the preferences)
    ics: IcsMethod | None  # the iCalendar method attached, if any


_BOOKING_PARTIES = (Role.CASEWORKER, Role.INTERPRETER)

SPECS: dict[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(Kind.BOOKING_ASSIGNED, BookingPayload, (Role.INTERPRETER,), "REQUEST"),
        KindSpec(Kind.BOOKING_CONFIRMED, BookingPayload, _BOOKING_PARTIES, "REQUEST"),
        KindSpec(Kind.BOOKING_DECLINED, BookingPayload, (Role.INTERPRETER,), "CANCEL"),
        # The booking stays in the caseworker's calendar, marked tentative, while we look again.
        KindSpec(Kind.BOOKING_WITHDRAWN, BookingPayload, (Role.CASEWORKER,), "REQUEST"),
        KindSpec(Kind.BOOKING_UNASSIGNED, BookingPayload, (Role.CASEWORKER,), None),
        KindSpec(Kind.BOOKING_CANCELLED, BookingPayload, _BOOKING_PARTIES, "CANCEL"),
        KindSpec(Kind.BOOKING_LATE_CANCELLED, BookingPayload, _BOOKING_PARTIES, "CANCEL"),
        KindSpec(Kind.REMINDER_DUE, BookingPayload, _BOOKING_PARTIES, None),
        KindSpec(Kind.NO_SHOW_ESCALATED, BookingPayload, (*_BOOKING_PARTIES, Role.ADMIN), "CANCEL"),
        KindSpec(Kind.CALLBACK_READY, RequestPayload, (Role.CASEWORKER,), None),
        KindSpec(Kind.REQUEST_UNFILLED, RequestPayload, (Role.CASEWORKER,), None),
    )
}


def spec(kind: Kind | str) -> KindSpec:
    return SPECS[Kind(kind)]


def kinds_for(role: Role) -> list[Kind]:
    return [k for k, s in SPECS.items() if role in s.roles]


def booking_times(payload: dict[str, object]) -> tuple[datetime, datetime] | None:
    """The slot of a booking payload (as stored, JSON), or None for request kinds."""
    if "start" not in payload or "end" not in payload:
        return None
    return datetime.fromisoformat(str(payload["start"])), datetime.fromisoformat(str(payload["end"]))
