from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from broker.auth import service as auth_service
from broker.auth import throttle
from broker.auth.deps import EVERY_ROLE, allow, public
from broker.auth.schemas import LoginIn, TokenRead
from broker.auth.security import verify_password_async
from broker.config import Settings
from broker.database import utcnow
from broker.deps import (
    SESSION_COOKIE,
    CurrentUser,
    SessionDep,
    current_session_id,
    runtime_of,
    settings_of,
    token_from_request,
)
from broker.errors import COMMON_RESPONSES, CodedHTTPException
from broker.user.models import User
from broker.user.schemas import UserRead

LOGIN_THROTTLED = "login_throttled"
LOGIN_FAILED = "login_failed"
ACCOUNT_DEACTIVATED = "account_deactivated"

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=COMMON_RESPONSES)


def client_address(request: Request) -> str:
    """The client's address; behind a trusted proxy uvicorn has already put the forwarded one
    here (`VD_FORWARDED_ALLOW_IPS`), from anyone else X-Forwarded-For is ignored."""
    return request.client.host if request.client else "unknown"


async def _login(request: Request, db: SessionDep, login_in: LoginIn) -> User:
    """Throttle, then verify off the event loop, holding no database connection meanwhile."""
    settings: Settings = settings_of(request)
    keys = throttle.keys_for(username=login_in.username, source=client_address(request))
    gate: throttle.Gate = request.app.state.login_gate  # per app, made in create_app
    async with gate.hold(keys):
        wait = await throttle.admit(db=db, keys=keys, settings=settings, now=utcnow())
        if wait:
            await db.rollback()
        else:
            await db.commit()  # counted before the password is checked: parallel guesses see each other
    if wait:
        raise CodedHTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many failed attempts, try again in {wait} s.",
            code=LOGIN_THROTTLED, headers={"Retry-After": str(wait)}, seconds=wait,
        )
    found = await auth_service.credentials(db=db, username=login_in.username)
    await db.rollback()  # give the connection back while argon2 runs
    verified = await verify_password_async(found.password_hash if found else None, login_in.password)
    ok = verified and found is not None and found.active
    user = await auth_service.record_login(db=db, user_id=found.user_id if found else None, ok=ok)
    if user is None:
        await db.commit()  # keep the audit row of the failed attempt
        if verified and found is not None and not found.active:
            # Said only to someone who knows the password: a guess learns nothing about the account.
            raise CodedHTTPException(status.HTTP_403_FORBIDDEN, "This account is deactivated.",
                                     code=ACCOUNT_DEACTIVATED)
        raise CodedHTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Wrong username or password.",
            code=LOGIN_FAILED,
        )
    await throttle.succeeded(db=db, keys=keys)
    return user


@router.post("/login", response_model=UserRead, dependencies=[Depends(public)])
async def login(login_in: LoginIn, request: Request, response: Response, db: SessionDep) -> User:
    """Sign in a browser: sets an HttpOnly, SameSite session cookie."""
    settings: Settings = settings_of(request)
    user = await _login(request, db, login_in)
    token = await auth_service.start_session(db=db, user=user, kind="cookie", hours=settings.session_hours)
    await db.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return user


@router.post("/token", response_model=TokenRead, dependencies=[Depends(public)])
async def token(login_in: LoginIn, request: Request, db: SessionDep) -> TokenRead:
    """Sign in an API client: returns a bearer token."""
    settings: Settings = settings_of(request)
    user = await _login(request, db, login_in)
    value = await auth_service.start_session(db=db, user=user, kind="bearer", hours=settings.session_hours)
    await db.commit()
    return TokenRead(access_token=value, user=UserRead.model_validate(user))


@router.post(
    "/logout", status_code=204, dependencies=[Depends(allow(*EVERY_ROLE))], response_class=Response
)
async def logout(request: Request, response: Response, db: SessionDep, user: CurrentUser) -> None:
    """Sign out: revokes this session and closes its WebSockets on every instance."""
    if token_value := token_from_request(request):
        await auth_service.end_session(db=db, token=token_value)
        await db.commit()
    if (hub := runtime_of(request).hub) is not None:
        await hub.sign_out(user.id, current_session_id(request))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserRead, dependencies=[Depends(allow(*EVERY_ROLE))])
async def me(user: CurrentUser) -> User:
    """Show the signed-in user."""
    return user
