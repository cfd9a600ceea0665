from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime, utcnow
from broker.enums import (
    Gender,
    Media,
    OfferStatus,
    Priority,
    QualificationWish,
    RequestMode,
    RequestStatus,
    db_enum,
)


class InterpretingRequest(Base):
    """One interpreting need: on demand ("interpret now") or booked (a Termin)."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(
            "mode != 'booked' OR (scheduled_start IS NOT NULL AND scheduled_end IS NOT NULL)",
            name="booking_has_slot",
        ),
        CheckConstraint(
            "scheduled_end IS NULL OR scheduled_start < scheduled_end", name="slot_order"
        ),
        CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_requests_status_language", "status", "language_code"),
        Index("ix_requests_interpreter_start", "interpreter_id", "scheduled_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"))
    purpose: Mapped[str] = mapped_column(ForeignKey("purposes.code"))
    mode: Mapped[RequestMode] = mapped_column(db_enum(RequestMode, "request_mode"))
    media: Mapped[Media] = mapped_column(db_enum(Media, "media"), default=Media.VIDEO)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority, "priority"), default=Priority.NORMAL)
    wish_gender: Mapped[Gender | None] = mapped_column(db_enum(Gender, "wish_gender"))
    wish_qualification: Mapped[QualificationWish] = mapped_column(
        db_enum(QualificationWish, "wish_qualification"), default=QualificationWish.ANY
    )
    status: Mapped[RequestStatus] = mapped_column(db_enum(RequestStatus, "request_status"))
    interpreter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scheduled_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # max wait (on demand)
    first_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_problems: Mapped[str | None] = mapped_column(String(100))  # comma list of ticks
    note: Mapped[str | None] = mapped_column(Text)  # operational, removed by retention
    version: Mapped[int] = mapped_column(Integer, default=1)


class Offer(Base):
    """A reservation of one interpreter for one request."""

    __tablename__ = "offers"
    __table_args__ = (
        # Exactly one accepted offer per request, ever.
        Index(
            "uq_offers_one_accepted_per_request",
            "request_id",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
        # An interpreter holds at most one open accepted offer (a live session) at a time.
        Index(
            "uq_offers_one_live_session_per_interpreter",
            "interpreter_id",
            unique=True,
            sqlite_where=text("status = 'accepted' AND closed_at IS NULL"),
            postgresql_where=text("status = 'accepted' AND closed_at IS NULL"),
        ),
        # An interpreter holds at most one pending offer at a time.
        Index(
            "uq_offers_one_pending_per_interpreter",
            "interpreter_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_offers_status_expires", "status", "expires_at"),
        Index("ix_offers_request", "request_id", "interpreter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    interpreter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[OfferStatus] = mapped_column(db_enum(OfferStatus, "offer_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdempotencyKey(Base):
    """The stored result of a create/accept call, replayed when a client retries."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
