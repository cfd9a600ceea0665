from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from broker.database import Base, UTCDateTime, utcnow
from broker.enums import OfficeKind, db_enum


class District(Base):
    """A Thuringian Landkreis or kreisfreie Stadt, keyed by its AGS (official municipality key)."""

    __tablename__ = "districts"

    ags: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OfficeKind] = mapped_column(db_enum(OfficeKind, "office_kind"))
    district_ags: Mapped[str] = mapped_column(ForeignKey("districts.ags"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    district: Mapped[District] = relationship(lazy="joined")
