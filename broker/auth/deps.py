"""Request dependencies: database session, current user and the per-route role guard.

Every route declares who may call it with `dependencies=[Depends(allow(Role.X, ...))]`
(or `Depends(public)` for the few routes open to everyone). The authorisation-matrix test
walks the app's route table and fails for any route without a guard.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth import service as auth_service
from broker.enums import Role
from broker.errors import CodedHTTPException
from broker.user.models import User

SESSION_COOKIE = "vd_session"
ROLE_FORBIDDEN = "role_forbidden"


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db)]


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.cookies.get(SESSION_COOKIE)


async def get_current_user(request: Request, db: SessionDep) -> User:
    cached = getattr(request.state, "user", None)
    if isinstance(cached, User):  # the role guard already looked it up for this request
        return cached
    token = token_from_request(request)
    found = await auth_service.session_for_token(db=db, token=token) if token else None
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Bitte melden Sie sich an. / Please sign in.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user, request.state.auth_session_id = found
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def current_session_id(request: Request) -> int | None:
    """The session id behind this request (after the role guard or CurrentUser ran)."""
    found = getattr(request.state, "auth_session_id", None)
    return found if isinstance(found, int) else None


class RoleGuard:
    """A dependency that admits only the given roles (an empty tuple: everyone, even anonymous)."""

    def __init__(self, *roles: Role) -> None:
        self.roles: tuple[Role, ...] = roles

    async def __call__(self, request: Request, db: SessionDep) -> None:
        if not self.roles:
            return
        user = await get_current_user(request, db)
        if user.role not in self.roles:
            raise CodedHTTPException(
                status.HTTP_403_FORBIDDEN,
                "Diese Funktion ist für Ihre Rolle nicht freigegeben. / Your role may not use this function.",
                code=ROLE_FORBIDDEN,
            )

    def __repr__(self) -> str:
        return f"allow({', '.join(r.value for r in self.roles) or 'public'})"


def allow(*roles: Role) -> RoleGuard:
    return RoleGuard(*roles)


public = RoleGuard()
EVERY_ROLE = tuple(Role)


def office_scope(user: User) -> int | None:
    """The office a user is confined to (caseworkers), or None for roles that see all."""
    return user.office_id if user.role is Role.CASEWORKER else None
