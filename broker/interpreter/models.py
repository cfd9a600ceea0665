from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.database import Base, UTCDateTime, utcnow
from broker.enums import Gender, InterpreterStatus, Qualification, db_enum


class InterpreterProfile(Base):
    __tablename__ = "interpreter_profiles"
    __table_args__ = (
        CheckConstraint("max_session_minutes BETWEEN 10 AND 600", name="max_session_minutes_range"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    gender: Mapped[Gender | None] = mapped_column(db_enum(Gender, "gender"))
    max_session_minutes: Mapped[int] = mapped_column(Integer, default=90)
    status: Mapped[InterpreterStatus] = mapped_column(
        db_enum(InterpreterStatus, "interpreter_status"), default=InterpreterStatus.OFFLINE, index=True
    )
    # Whether the interpreter wants offers while online (the status switch); presence is separate.
    wants_offers: Mapped[bool] = mapped_column(Boolean, default=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    # Last time an instance proved the interpreter alive (broker/interpreter/liveness.py).
    presence_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    missed_offers: Mapped[int] = mapped_column(Integer, default=0)
    minutes_since_break: Mapped[int] = mapped_column(Integer, default=0)
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    languages: Mapped[list[InterpreterLanguage]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="InterpreterLanguage.language_code"
    )


class InterpreterLanguage(Base):
    __tablename__ = "interpreter_languages"

    interpreter_id: Mapped[int] = mapped_column(
        ForeignKey("interpreter_profiles.user_id"), primary_key=True
    )
    language_code: Mapped[str] = mapped_column(ForeignKey("languages.code"), primary_key=True, index=True)
    qualification: Mapped[Qualification] = mapped_column(db_enum(Qualification, "qualification"))


class AvailabilityWindow(Base):
    """A weekly window (local time, Europe/Berlin) in which the interpreter can take bookings."""

    __tablename__ = "availability_windows"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="window_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(ForeignKey("interpreter_profiles.user_id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class Absence(Base):
    __tablename__ = "absences"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="absence_order"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(ForeignKey("interpreter_profiles.user_id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(200))


class PresenceInterval(Base):
    """History of when an interpreter was available; planning compares it with demand."""

    __tablename__ = "presence_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    interpreter_id: Mapped[int] = mapped_column(ForeignKey("interpreter_profiles.user_id"), index=True)
    status: Mapped[InterpreterStatus] = mapped_column(db_enum(InterpreterStatus, "presence_status"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
