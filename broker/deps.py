"""Route dependencies every area uses: the unit of work, the current user, the runtime, settings.

`SessionDep` is the unit of work of a route: services add and flush on it, the route commits
once with `await db.commit()`, which publishes what the services recorded (see
`broker.live.unit`). There is no other way for a route to commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from broker.auth import service as auth_service
from broker.config import Settings
from broker.live.runtime import Runtime
from broker.user.models import User

SESSION_COOKIE = "vd_session"


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime = getattr(connection.app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the app's lifespan has not started (no runtime)")
    return runtime


def settings_of(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]


async def get_db(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessionmaker() as session:
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
            detail="Please sign in.",
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
