from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.auth import passwords
from broker.auth import service as auth_service
from broker.auth.security import hash_password_async
from broker.config import Settings
from broker.enums import Role
from broker.errors import Conflict, Invalid
from broker.interpreter import status as interpreter_status
from broker.interpreter.models import InterpreterProfile
from broker.office.models import Office
from broker.user.models import User
from broker.user.schemas import ProfileSelfUpdate, UserCreate, UserUpdate


async def get(*, db: AsyncSession, user_id: int, office_id: int | None = None) -> User | None:
    stmt = select(User).where(User.id == user_id)
    if office_id is not None:
        stmt = stmt.where(User.office_id == office_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def get_by_username(*, db: AsyncSession, username: str) -> User | None:
    return (await db.execute(select(User).where(User.username == username))).scalar_one_or_none()


def list_query(
    *,
    office_id: int | None = None,
    role: Role | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Select[User]:
    stmt = select(User).order_by(User.username)
    if office_id is not None:
        stmt = stmt.where(User.office_id == office_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(User.username.like(like), User.display_name.ilike(like)))
    return stmt


async def _check_office(db: AsyncSession, role: Role, office_id: int | None) -> None:
    if role is Role.CASEWORKER and office_id is None:
        raise Invalid("Caseworkers need an office.",
                      code="office_required", loc=["body", "office_id"])
    if office_id is not None:
        office = await db.get(Office, office_id)
        if office is None or not office.active:
            raise Invalid(f"Unknown office {office_id}.",
                          code="unknown_office")


async def create(*, db: AsyncSession, user_in: UserCreate, actor_id: int | None) -> User:
    if await get_by_username(db=db, username=user_in.username):
        raise Conflict(f"Username '{user_in.username}' is already taken.",
                       code="duplicate_username")
    await _check_office(db, user_in.role, user_in.office_id)
    passwords.check(user_in.password, username=user_in.username)
    user = User(
        username=user_in.username,
        display_name=user_in.display_name,
        email=user_in.email,
        role=user_in.role,
        office_id=user_in.office_id,
        password_hash=await hash_password_async(user_in.password),
        locale=user_in.locale,
    )
    db.add(user)
    await db.flush()
    if user.role is Role.INTERPRETER:
        db.add(InterpreterProfile(user_id=user.id))
        await db.flush()
    await audit_service.record(
        db=db, actor_id=actor_id, action="user_create", object_type="user", object_id=user.id,
        details={"username": user.username, "role": user.role.value},
    )
    return user


async def update(*, db: AsyncSession, user: User, user_in: UserUpdate, actor_id: int | None,
                 settings: Settings, now: datetime) -> User:
    changes = user_in.model_dump(exclude_unset=True)
    role = changes.get("role", user.role)
    office_id = changes["office_id"] if "office_id" in changes else user.office_id
    await _check_office(db, role, office_id)
    if role is not user.role and (role is Role.INTERPRETER or user.role is Role.INTERPRETER):
        raise Invalid("The interpreter role cannot be changed.", code="role_change")
    if changes.get("active") is False and actor_id == user.id:
        # An admin who locks themselves out may leave nobody who can undo it.
        raise Conflict("You cannot deactivate your own account.", code="self_deactivation")
    if changes.get("password") is not None:
        passwords.check(changes["password"], username=user.username)
    for field, value in changes.items():
        if field == "password":
            if value is not None:
                user.password_hash = await hash_password_async(value)
        elif value is not None or field in ("email", "office_id"):
            setattr(user, field, value)
    if changes.get("active") is False or "password" in changes:
        await auth_service.end_all_sessions(db=db, user_id=user.id)
    if changes.get("active") is False and user.role is Role.INTERPRETER:
        # Offline at once (not after the presence grace): pending offers are withdrawn and
        # dispatch stops counting them; the route closes their sockets after the commit.
        await interpreter_status.set_online(db=db, user_id=user.id, online=False, settings=settings, now=now)
    await db.flush()
    await audit_service.record(
        db=db, actor_id=actor_id, action="user_update", object_type="user", object_id=user.id,
        details={k: v for k, v in changes.items() if k != "password"},
    )
    return user


async def update_self(*, db: AsyncSession, user: User, profile_in: ProfileSelfUpdate) -> User:
    changes = profile_in.model_dump(exclude_unset=True)
    if changes.get("locale") is not None:
        user.locale = changes["locale"]
    if "email" in changes:
        user.email = changes["email"]
    await db.flush()
    await audit_service.record(db=db, actor_id=user.id, action="user_update_self", object_type="user",
                               object_id=user.id, details={k: v is not None for k, v in changes.items()})
    return user
