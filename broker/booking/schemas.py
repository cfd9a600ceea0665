from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from broker.enums import Gender, Media, Qualification, QualificationWish, RequestStatus
from broker.language.schemas import LANGUAGE_CODE
from broker.params import MAX_ID, IsoDateTime, Text


class BookingCreate(BaseModel):
    """A Termin: language, start, duration, purpose, wishes; optionally a proposed interpreter."""

    model_config = ConfigDict(extra="forbid")

    language_code: Text = Field(pattern=LANGUAGE_CODE, max_length=16)
    purpose: Text = Field(min_length=1, max_length=40)
    start: IsoDateTime
    duration_minutes: int = Field(ge=5, le=24 * 60, description="At most the configured maximum (240)")
    media: Media = Media.VIDEO
    wish_gender: Gender | None = None
    wish_qualification: QualificationWish = QualificationWish.ANY
    interpreter_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                       description="One of the proposals; empty: assign automatically")


class Names(BaseModel):
    """A catalogue entry's names; the page shows the one for its language."""

    code: str
    name_de: str
    name_en: str


class BookingRead(BaseModel):
    """A booking as the pages show it: names instead of codes, and what a cancel would mean."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    office_id: int
    caseworker_id: int
    language_code: str
    purpose: str
    media: Media
    wish_gender: Gender | None
    wish_qualification: QualificationWish
    status: RequestStatus
    interpreter_id: int | None
    start: datetime = Field(validation_alias="scheduled_start")
    end: datetime = Field(validation_alias="scheduled_end")
    created_at: datetime
    ended_at: datetime | None
    cancelled_by: int | None
    late_cancellation: bool
    language: Names | None = None
    purpose_names: Names | None = None
    office_name: str | None = None
    interpreter_name: str | None = None
    escalated_to: int | None = Field(default=None, description="The on-demand request a no-show went to")
    cancel_is_late: bool = Field(default=False, description="Cancelling now would be flagged late")


class ProposalRead(BaseModel):
    """An interpreter free for the slot; the first one is who automatic assignment would pick."""

    interpreter_id: int
    display_name: str
    username: str = Field(description="Tells two people with the same display name apart")
    languages: list[str] = Field(default_factory=list, description="Codes of every language they interpret")
    qualification: Qualification
    gender: Gender | None
    booked_minutes_this_month: int


class CalendarLinkRead(BaseModel):
    """The secret feed address; shown once, a new one invalidates the old."""

    url: str
    token: str


class SlotRead(BaseModel):
    """A free start time of the chosen day and who is free then (first: automatic assignment)."""

    start: datetime
    end: datetime
    proposals: list[ProposalRead]
