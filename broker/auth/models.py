from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.database import Base, UTCDateTime, utcnow


class AuthSession(Base):
    """A signed-in browser (cookie) or API client (bearer). Only a hash of the token is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "cookie" or "bearer"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginCounter(Base):
    """One sign-in throttle counter (an account or a source address), shared by all instances.

    `key` is `account:<name>` or `source:<address>`; see broker/auth/throttle.py for the rules.
    """

    __tablename__ = "login_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_allowed_at: Mapped[datetime] = mapped_column(UTCDateTime)
