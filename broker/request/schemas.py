from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from broker.enums import (
    Gender,
    Media,
    OfferStatus,
    Priority,
    QualificationWish,
    RequestMode,
    RequestStatus,
)
from broker.language.schemas import LANGUAGE_CODE
from broker.params import Text

PURPOSE_CODE = r"^[a-z][a-z0-9_]{0,39}$"


class RequestCreate(BaseModel):
    """An on-demand request ("interpret now"); the office is the caseworker's own."""

    model_config = ConfigDict(extra="forbid")

    language_code: Text = Field(pattern=LANGUAGE_CODE, max_length=16)
    purpose: Text = Field(pattern=PURPOSE_CODE, max_length=40)
    media: Media = Media.VIDEO
    priority: Priority = Priority.NORMAL
    wish_gender: Gender | None = None
    wish_qualification: QualificationWish = QualificationWish.ANY


class RequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    office_id: int
    language_code: str
    purpose: str
    mode: RequestMode
    media: Media
    priority: Priority
    wish_gender: Gender | None
    wish_qualification: QualificationWish
    status: RequestStatus
    interpreter_id: int | None
    created_at: datetime
    deadline_at: datetime | None
    first_offered_at: datetime | None
    accepted_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    offers_made: int
    rating: int | None
    rating_problems: str | None
    queue_position: int | None = Field(default=None, description="1 = next; only while waiting")
    estimated_wait_seconds: int | None = Field(default=None, description="Only while waiting; None = unknown")


class Problem(StrEnum):
    AUDIO = "audio"
    VIDEO = "video"
    INTERPRETER = "interpreter"
    OTHER = "other"


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    problems: list[Problem] = Field(default_factory=list, max_length=4)


class OfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    status: OfferStatus
    created_at: datetime
    expires_at: datetime


class JoinRead(BaseModel):
    """What a party needs to join the call's room over the signalling socket."""

    request_id: int
    room_id: str
    role: str
    token: str
    expires_at: datetime
    media: Media = Field(description="The request's media: `audio` keeps both cameras off")
    ice_servers: list[dict[str, object]]


class AcceptRead(BaseModel):
    offer_id: int
    request: RequestRead
    join: JoinRead


class GuestLinkRead(BaseModel):
    url: str
    room_id: str
    expires_at: datetime


class Tier(StrEnum):
    NOW = "now"  # an interpreter is available right now
    SOON = "soon"  # interpreters are online but busy
    BOOKING = "booking"  # registered interpreters, none online: book an appointment
    NONE = "none"  # nobody registered speaks it


class LanguageTierRead(BaseModel):
    language_code: str
    name_de: str
    name_en: str
    name_native: str
    tier: Tier
    interpreters_registered: int
    interpreters_online: int
    interpreters_available: int
    typical_wait_seconds: int | None
    office_requests: int = Field(0, description="Requests from the caller's own office in the last 90 days "
                                 "(ledger rows of every outcome); 0 for roles without an office")
