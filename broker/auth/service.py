from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.auth.models import AuthSession
from broker.auth.security import new_token, token_digest, verify_password
from broker.database import utcnow
from broker.user.models import User


async def authenticate(*, db: AsyncSession, username: str, password: str) -> User | None:
    """Return the active user with these credentials and audit the attempt either way."""
    user = (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password) and bool(user and user.active)
    await audit_service.record(
        db=db,
        actor_id=user.id if user else None,
        action="login" if ok else "login_failed",
        object_type="user",
        object_id=user.id if user else None,
    )
    if not ok or user is None:
        return None
    user.last_login_at = utcnow()
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


async def user_for_token(*, db: AsyncSession, token: str) -> User | None:
    stmt = (
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            AuthSession.token_hash == token_digest(token),
            AuthSession.revoked.is_(False),
            AuthSession.expires_at > utcnow(),
            User.active.is_(True),
        )
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def end_session(*, db: AsyncSession, token: str) -> None:
    await db.execute(
        update(AuthSession).where(AuthSession.token_hash == token_digest(token)).values(revoked=True)
    )


async def end_all_sessions(*, db: AsyncSession, user_id: int) -> None:
    """Revoke every session of a user (deactivation, password change)."""
    await db.execute(update(AuthSession).where(AuthSession.user_id == user_id).values(revoked=True))
