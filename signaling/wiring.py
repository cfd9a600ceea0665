"""How the broker app plugs the hub in: authentication from the session cookie or a ws token.

Kept here (not in broker/app.py) so the app only needs two lines: start the hub in the
lifespan, include the router.
"""

from __future__ import annotations

import gc
import time

from fastapi import FastAPI
from starlette.websockets import WebSocket

from broker.auth import service as auth_service
from broker.auth.deps import SESSION_COOKIE
from broker.call import service as call_service
from broker.config import Settings
from broker.database import utcnow
from broker.user.models import User
from signaling.backplane import InMemoryBackplane
from signaling.hub import AdmitGuest, Authenticate, AuthRefused, Hub
from signaling.principal import Principal
from signaling.rooms import RoomError
from signaling.tokens import TokenError, open_ws_token


def make_authenticate(app: FastAPI) -> Authenticate:
    settings: Settings = app.state.settings

    async def authenticate(websocket: WebSocket) -> Principal | None:
        """The session cookie (browsers) or `?token=` from POST /api/rtc/ws-token (other clients)."""
        ws_token = websocket.query_params.get("token")
        cookie = websocket.cookies.get(SESSION_COOKIE)
        async with app.state.sessionmaker() as db:
            user: User | None = None
            session_id: int | None = None
            if ws_token:
                try:
                    claims = open_ws_token(settings.secret_key, ws_token, now=time.time())
                except TokenError as exc:
                    raise AuthRefused(exc.code) from exc
                if claims.session_id is None:  # not bound to a sign-in: could not be revoked
                    raise AuthRefused("token-invalid")
                session_id = claims.session_id
                user = await auth_service.user_for_session(db=db, session_id=session_id, user_id=claims.user_id)
                if user is None:  # minted before a logout, deactivation or password change
                    raise AuthRefused("session-ended")
            elif cookie:
                found = await auth_service.session_for_token(db=db, token=cookie)
                if found is not None:
                    user, session_id = found
        if user is None or not user.active:
            return None
        return Principal(user_id=user.id, role=str(user.role), display_name=user.display_name,
                         session_id=session_id)

    return authenticate


def make_admit_guest(app: FastAPI) -> AdmitGuest:
    async def admit_guest(room_id: str, token: str) -> None:
        """A guest link works once, and only the latest one issued for the call."""
        async with app.state.sessionmaker() as db:
            refused = await call_service.spend_guest_link(db=db, room_id=room_id, token=token, now=utcnow())
            await db.commit()
        if refused == call_service.GUEST_LINK_USED:
            raise RoomError(refused, "this guest link has already been used")
        if refused is not None:
            raise RoomError(refused, "this guest link was replaced by a newer one")

    return admit_guest


async def start_hub(app: FastAPI) -> Hub:
    """Create and start the app's hub (`app.state.hub`); the caller stops it on shutdown.

    Other areas attach themselves afterwards: `hub.current_state = ...` for the replay on
    reconnect, `hub.add_presence_listener(...)` for interpreter presence.
    """
    settings: Settings = app.state.settings
    if settings.redis_url:  # several instances act as one: rooms, notify, presence over Redis
        from signaling.cluster import ClusterHub
        from signaling.redis_backplane import RedisBackplane

        hub: Hub = ClusterHub(settings=settings, backplane=RedisBackplane(settings.redis_url),
                              authenticate=make_authenticate(app))
    else:  # one process fans out in memory
        hub = Hub(settings=settings, backplane=InMemoryBackplane(), authenticate=make_authenticate(app))
    hub.admit_guest = make_admit_guest(app)
    app.state.hub = hub
    await hub.start()
    if settings.environment != "test":  # a test process starts many apps; freezing is for servers
        tune_gc()
    return hub


_gc_tuned = False


def tune_gc(gen0_threshold: int = 10_000) -> None:
    """Keep the garbage collector's pauses out of the signalling tail latency (called once the
    app has started).

    After start-up the process holds about a million objects (FastAPI, pydantic schemas,
    SQLAlchemy, aiortc) that live until exit, and every full collection walked them all:
    60–130 ms on the development machine, measured during a burst of 2,000 connections. That
    is a pause for every socket. `gc.freeze()` moves them to the permanent generation, which
    collections skip (full passes then took 30–55 ms). Objects made later (sockets, rooms) are
    not frozen, so their cycles are still collected.

    Relaying itself barely feeds the collector (relayed messages are freed by reference
    counting: 0–1 collections in 4 s at 5,000 messages/s), so the threshold matters for
    bursts of connections: 10,000 instead of 700 means a third as many young passes there,
    each still a few milliseconds at most, and fewer promotions towards a full collection.
    """
    global _gc_tuned
    if _gc_tuned:  # once per process: a second freeze would pin what died since in cycles for good
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
