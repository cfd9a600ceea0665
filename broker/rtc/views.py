"""Routes: the WebSocket at /ws and the small HTTP API around calls (`/api/rtc/...`)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from broker.auth.deps import allow
from broker.deps import CurrentUser, current_session_id, runtime_of
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, ErrorRead
from broker.rtc.schemas import EchoAnswer, EchoOffer, IceServersRead, WsTokenRead
from signaling.echo import EchoBusy
from signaling.handler import serve_socket
from signaling.hub import Hub
from signaling.protocol import IceServer
from signaling.tokens import issue_ws_token

WS_TOKEN_SECONDS = 60  # only needed to open the socket; the socket then lives on

router = APIRouter(tags=["rtc"], responses=COMMON_RESPONSES)
signed_in = allow(Role.CASEWORKER, Role.INTERPRETER, Role.MANAGER, Role.ADMIN)
call_parties = allow(Role.CASEWORKER, Role.INTERPRETER, Role.ADMIN)


def get_hub(connection: HTTPConnection) -> Hub:
    """The runtime's hub (a test serving a bare hub overrides this dependency)."""
    hub = runtime_of(connection).hub
    if hub is None:
        raise RuntimeError("the signalling hub has not started")
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket, hub: HubDep) -> None:
    await serve_socket(hub, websocket)


@router.get("/api/rtc/ice-servers", response_model=IceServersRead, dependencies=[Depends(signed_in)])
async def get_ice_servers(hub: HubDep, user: CurrentUser) -> IceServersRead:
    """List STUN/TURN servers with fresh TURN credentials for the current user."""
    servers = hub.ice_servers(user.id)
    return IceServersRead(ice_servers=[IceServer.model_validate(s) for s in servers])


@router.post("/api/rtc/ws-token", response_model=WsTokenRead, dependencies=[Depends(signed_in)])
async def create_ws_token(request: Request, hub: HubDep, user: CurrentUser) -> WsTokenRead:
    """Issue a short-lived token to open the WebSocket from a non-browser client."""
    secret = hub.settings.secret_key
    token = issue_ws_token(secret, user_id=user.id, expires_at=time.time() + WS_TOKEN_SECONDS,
                           session_id=current_session_id(request))
    return WsTokenRead(token=token, expires_in=WS_TOKEN_SECONDS)


@router.post(
    "/api/rtc/echo",
    response_model=EchoAnswer,
    dependencies=[Depends(call_parties)],
    responses={400: {"model": ErrorRead}, 503: {"model": ErrorRead, "description": "All echo peers busy"}},
)
async def create_echo_peer(hub: HubDep, offer: EchoOffer) -> EchoAnswer:
    """Answer an SDP offer with a server-side echo peer for the pre-call check."""
    echo = hub.echo
    try:
        answer = await echo.answer(offer.sdp, offer.type)
    except EchoBusy as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "60"}
        ) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"unusable SDP offer: {exc}") from exc
    return EchoAnswer(sdp=answer.sdp, expires_in=echo.lifetime)
