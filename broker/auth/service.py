from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.auth.models import AuthSession
from broker.auth.security import new_token, token_digest
from broker.database import utcnow
from broker.user.models import User


@dataclass(frozen=True)
class Credentials:
    """What sign-in needs of an account, read in a short transaction before argon2 runs."""

    user_id: int
    password_hash: str
    active: bool


async def credentials(*, db: AsyncSession, username: str) -> Credentials | None:
    stmt = select(User.id, User.password_hash, User.active).where(User.username == username)
    row = (await db.execute(stmt)).one_or_none()
    return Credentials(user_id=row[0], password_hash=row[1], active=row[2]) if row else None


async def record_login(*, db: AsyncSession, user_id: int | None, ok: bool) -> User | None:
    """Audit the attempt either way; on success stamp and return the user."""
    await audit_service.record(db=db, actor_id=user_id, action="login" if ok else "login_failed",
                               object_type="user", object_id=user_id)
    if not ok or user_id is None:
        return None
    user = await db.get(User, user_id)
    if user is None:
        return None
    user.last_login_at = utcnow()
    await db.flush()
    return user


async def start_session(*, db: AsyncSession, user: User, kind: str, hours: int) -> str:
    token = new_token()
    db.add(
        AuthSession(
            token_hash=token_digest(token),
            user_id=user.id,
            kind=kind,
            expires_at=utcnow() + timedelta(hours=hours),
        )
    )
    await db.flush()
    return token


def _live_sessions() -> Select[User, int]:
    return (
        select(User, AuthSession.id)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.revoked.is_(False), AuthSession.expires_at > utcnow(), User.active.is_(True))
    )


async def session_for_token(*, db: AsyncSession, token: str) -> tuple[User, int] | None:
    """The active user and session id behind a live (not revoked, not expired) session token."""
    row = (await db.execute(_live_sessions().where(AuthSession.token_hash == token_digest(token)))).first()
    return (row[0], row[1]) if row else None


async def user_for_token(*, db: AsyncSession, token: str) -> User | None:
    found = await session_for_token(db=db, token=token)
    return found[0] if found else None


async def user_for_session(*, db: AsyncSession, session_id: int, user_id: int) -> User | None:
    """The user if this session of theirs is still live (a WebSocket token dies with its session)."""
    stmt = _live_sessions().where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    row = (await db.execute(stmt)).first()
    return row[0] if row else None


async def session_id_for_token(*, db: AsyncSession, token: str) -> int | None:
    stmt = select(AuthSession.id).where(AuthSession.token_hash == token_digest(token))
    return (await db.execute(stmt)).scalar_one_or_none()


async def end_session(*, db: AsyncSession, token: str) -> None:
    await db.execute(
        update(AuthSession).where(AuthSession.token_hash == token_digest(token)).values(revoked=True)
    )


async def end_all_sessions(*, db: AsyncSession, user_id: int) -> None:
    """Revoke every session of a user (deactivation, password change)."""
    await db.execute(update(AuthSession).where(AuthSession.user_id == user_id).values(revoked=True))
