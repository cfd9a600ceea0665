"""How the broker app plugs the hub in: authentication from the session cookie or a ws token.

Kept here (not in broker/app.py) so the app only needs two lines: start the hub in the
lifespan, include the router.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.websockets import WebSocket

from broker.auth import service as auth_service
from broker.auth.deps import SESSION_COOKIE
from broker.config import Settings
from broker.user.models import User
from signaling.backplane import InMemoryBackplane
from signaling.hub import Authenticate, Hub
from signaling.principal import Principal
from signaling.tokens import TokenError, verify_ws_token


def make_authenticate(app: FastAPI) -> Authenticate:
    settings: Settings = app.state.settings

    async def authenticate(websocket: WebSocket) -> Principal | None:
        """The session cookie (browsers) or `?token=` from POST /api/rtc/ws-token (other clients)."""
        ws_token = websocket.query_params.get("token")
        cookie = websocket.cookies.get(SESSION_COOKIE)
        async with app.state.sessionmaker() as db:
            user: User | None = None
            if ws_token:
                try:
                    user_id = verify_ws_token(settings.secret_key, ws_token, now=time.time())
                except TokenError:
                    return None
                user = await db.get(User, user_id)
            elif cookie:
                user = await auth_service.user_for_token(db=db, token=cookie)
        if user is None or not user.active:
            return None
        return Principal(user_id=user.id, role=str(user.role), display_name=user.display_name)

    return authenticate


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
    app.state.hub = hub
    await hub.start()
    return hub
