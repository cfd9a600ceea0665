from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime, utcnow
from broker.enums import CallStatus, db_enum


class Call(Base):
    """The room of one request's call. Media never touches the server; this is bookkeeping."""

    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # random room id
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), unique=True)
    status: Mapped[CallStatus] = mapped_column(db_enum(CallStatus, "call_status"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    guest_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    guest_joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
