"""Booking bookkeeping beside the request row: declines and the timed jobs that already ran."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime, utcnow


class BookingDecline(Base):
    """An interpreter declined (or withdrew from) a booking; re-assignment skips them."""

    __tablename__ = "booking_declines"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    declined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Withdrawn after confirming, less than `booking_late_cancel_hours` before the start.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # Withdrawn after confirming: the caseworker had been sent the booking for their calendar.
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class BookingEscalation(Base):
    """The on-demand request a no-show booking was handed to, so the counter can follow it."""

    __tablename__ = "booking_escalations"

    booking_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)


class BookingJobRun(Base):
    """A timed booking job that has run. The primary key makes every job run at most once,
    even when a restarted or competing scheduler fires it again."""

    __tablename__ = "booking_job_runs"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    job: Mapped[str] = mapped_column(String(24), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
