from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from broker.auth import service as auth_service
from broker.auth.deps import EVERY_ROLE, allow, public
from broker.auth.schemas import LoginIn, TokenRead
from broker.auth.throttle import LoginThrottle
from broker.config import Settings
from broker.deps import SESSION_COOKIE, CurrentUser, SessionDep, runtime_of, settings_of, token_from_request
from broker.errors import COMMON_RESPONSES
from broker.user.models import User
from broker.user.schemas import UserRead

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=COMMON_RESPONSES)


async def _login(request: Request, db: SessionDep, login_in: LoginIn) -> User:
    throttle: LoginThrottle = runtime_of(request).login_throttle
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{login_in.username.lower()}", f"ip:{client}")
    if wait := throttle.retry_after(*keys):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Zu viele Fehlversuche, bitte in {wait} s erneut versuchen. / "
            f"Too many failed attempts, try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    user = await auth_service.authenticate(db=db, username=login_in.username, password=login_in.password)
    if user is None:
        throttle.fail(*keys)
        await db.commit()  # keep the audit row of the failed attempt
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Benutzername oder Passwort falsch. / Wrong username or password.",
        )
    throttle.succeed(*keys)
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
async def logout(request: Request, response: Response, db: SessionDep) -> None:
    """Sign out: revokes this session."""
    if token_value := token_from_request(request):
        await auth_service.end_session(db=db, token=token_value)
        await db.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=UserRead, dependencies=[Depends(allow(*EVERY_ROLE))])
async def me(user: CurrentUser) -> User:
    """Show the signed-in user."""
    return user
