from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime
from broker.enums import LedgerOutcome, Media, OfficeKind, RequestMode, db_enum


class LedgerEntry(Base):
    """One row per finished request: pseudonymous, never a client's name or personal data.

    Dimensions are copied (not joined) so reports stay right after an office moves district
    or is deactivated, and so aggregation reads one table. The indexes serve the report
    filters: every report bounds `requested_at`, most group by language or office.
    """

    __tablename__ = "usage_ledger"
    __table_args__ = (
        Index("ix_ledger_requested_at", "requested_at"),
        Index("ix_ledger_language_requested", "language_code", "requested_at"),
        Index("ix_ledger_office_requested", "office_id", "requested_at"),
        Index("ix_ledger_interpreter_requested", "interpreter_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL for demand refused up front (no interpreter registered for the language).
    request_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    office_id: Mapped[int] = mapped_column(Integer)
    office_kind: Mapped[OfficeKind] = mapped_column(db_enum(OfficeKind, "ledger_office_kind"))
    district_ags: Mapped[str] = mapped_column(String(8))
    language_code: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(40))
    mode: Mapped[RequestMode] = mapped_column(db_enum(RequestMode, "ledger_mode"))
    media: Mapped[Media] = mapped_column(db_enum(Media, "ledger_media"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[LedgerOutcome] = mapped_column(db_enum(LedgerOutcome, "ledger_outcome"))
    offers_made: Mapped[int] = mapped_column(Integer, default=0)
    interpreter_id: Mapped[int | None] = mapped_column(Integer)
    rating: Mapped[int | None] = mapped_column(Integer)
    problems: Mapped[str | None] = mapped_column(String(100))
    late_cancellation: Mapped[bool] = mapped_column(Boolean, default=False)
