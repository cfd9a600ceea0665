"""The broker's signalling hub: authentication from the session cookie or a ws token, and the
hub's start and stop in the app's lifespan (`signaling/` itself knows nothing of the broker)."""

from __future__ import annotations

import time

from starlette.websockets import WebSocket

from broker.auth import service as auth_service
from broker.deps import SESSION_COOKIE
from broker.live.runtime import Runtime
from broker.user.models import User
from signaling.backplane import InMemoryBackplane
from signaling.hub import Authenticate, AuthRefused, Hub
from signaling.principal import Principal
from signaling.tokens import TokenError, open_ws_token
from signaling.tuning import tune_gc


def make_authenticate(runtime: Runtime) -> Authenticate:
    settings = runtime.settings

    async def authenticate(websocket: WebSocket) -> Principal | None:
        """The session cookie (browsers) or `?token=` from POST /api/rtc/ws-token (other clients)."""
        ws_token = websocket.query_params.get("token")
        cookie = websocket.cookies.get(SESSION_COOKIE)
        async with runtime.sessionmaker() as db:
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


async def start(runtime: Runtime) -> None:
    """Create and start the hub; committed effects go to it from now on.

    Other areas attach themselves afterwards: `hub.current_state = ...` for the replay on
    reconnect, `hub.add_presence_listener(...)` for interpreter presence.
    """
    settings = runtime.settings
    if settings.redis_url:  # several instances act as one: rooms, notify, presence over Redis
        from signaling.cluster import ClusterHub
        from signaling.redis_backplane import RedisBackplane

        hub: Hub = ClusterHub(settings=settings, backplane=RedisBackplane(settings.redis_url),
                              authenticate=make_authenticate(runtime))
    else:  # one process fans out in memory
        hub = Hub(settings=settings, backplane=InMemoryBackplane(), authenticate=make_authenticate(runtime))
    await hub.start()
    runtime.hub = runtime.realtime = hub
    if settings.environment != "test":  # a test process starts many apps; freezing is for servers
        tune_gc()


async def stop(runtime: Runtime) -> None:
    """Close every socket and echo peer at once."""
    if runtime.hub is not None:
        await runtime.hub.stop()
