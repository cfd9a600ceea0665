from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime
from broker.enums import LedgerOutcome, Media, OfficeKind, RequestMode, db_enum

LOCAL_TZ = ZoneInfo("Europe/Berlin")


def local_keys(instant: datetime) -> tuple[str, int]:
    """Local (Europe/Berlin) month 'YYYY-MM' and hour of the week (0 = Monday 00:00) of a UTC instant."""
    local = (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(LOCAL_TZ)
    return f"{local.year:04d}-{local.month:02d}", local.weekday() * 24 + local.hour


def _local_month(context: Any) -> str:
    return local_keys(context.get_current_parameters()["requested_at"])[0]


def _local_how(context: Any) -> int:
    return local_keys(context.get_current_parameters()["requested_at"])[1]


class LedgerEntry(Base):
    """One row per finished request: pseudonymous, never a client's name or personal data.

    Dimensions are copied (not joined) so reports stay right after an office moves district
    or is deactivated, and so aggregation reads one table. The indexes serve the report
    filters: every report bounds `requested_at`, most group by language or office.
    `local_month` and `local_how` (hour of the week) are `requested_at` in local time, written
    with the row (a column default, so every writer fills them) because converting time zones
    per row at report time was most of a report's cost on a million rows.
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
    local_month: Mapped[str] = mapped_column(String(7), default=_local_month)
    local_how: Mapped[int] = mapped_column(SmallInteger, default=_local_how)
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


class _RollupCell:
    """What a roll-up cell holds besides its period: the dimensions, the sums and the waits."""

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    language_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    office_kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    district_ags: Mapped[str] = mapped_column(String(8), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    demand: Mapped[int] = mapped_column(Integer)
    sessions: Mapped[int] = mapped_column(Integer)
    talk_seconds: Mapped[int] = mapped_column(Integer)
    requests_on_demand: Mapped[int] = mapped_column(Integer)
    sessions_on_demand: Mapped[int] = mapped_column(Integer)
    unmet: Mapped[int] = mapped_column(Integer)
    no_shows: Mapped[int] = mapped_column(Integer)
    late_cancellations: Mapped[int] = mapped_column(Integer)
    ratings: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    with_problems: Mapped[int] = mapped_column(Integer)
    waits_measured: Mapped[int] = mapped_column(Integer)
    waits_censored: Mapped[int] = mapped_column(Integer)
    waits: Mapped[str | None] = mapped_column(Text)


class UsageRollup(_RollupCell, Base):
    """The ledger summed per local month × office × office kind × district × language.

    Kept by database triggers on `usage_ledger` (broker/ledger/rollup.py), so every writer —
    the ledger service, the demo history's bulk inserts, a bench's COPY, a rating given later —
    changes it in the same statement and transaction as the ledger row: it cannot disagree
    with the ledger. `waits` holds the cell's counted waits (measured and censored, whole
    seconds) as comma-separated text in no order, so percentiles over any union of cells are
    exact. Reports read it for whole months; see docs/reports.md.
    """

    __tablename__ = "usage_rollup"
    # SQLite stores the rows in key order (month first): a period is one contiguous range.
    __table_args__ = {"sqlite_with_rowid": False}

    local_month: Mapped[str] = mapped_column(String(7), primary_key=True, sort_order=-1)


class UsageRollupYear(_RollupCell, Base):
    """The same sums per local year ('YYYY'), kept by the same triggers; reports read it for whole years."""

    __tablename__ = "usage_rollup_year"
    __table_args__ = {"sqlite_with_rowid": False}

    local_year: Mapped[str] = mapped_column(String(4), primary_key=True, sort_order=-1)
