"""Routes: the WebSocket at /ws and the small HTTP API around calls (`/api/rtc/...`)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Request, status
from starlette.websockets import WebSocket

from broker.auth.deps import CurrentUser, allow, current_session_id
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, ErrorRead
from signaling.echo import EchoBusy
from signaling.handler import serve_socket
from signaling.hub import Hub
from signaling.protocol import IceServer
from signaling.schemas import EchoAnswer, EchoOffer, IceServersRead, WsTokenRead
from signaling.tokens import issue_ws_token

WS_TOKEN_SECONDS = 60  # only needed to open the socket; the socket then lives on

router = APIRouter(tags=["rtc"], responses=COMMON_RESPONSES)
signed_in = allow(Role.CASEWORKER, Role.INTERPRETER, Role.MANAGER, Role.ADMIN)
call_parties = allow(Role.CASEWORKER, Role.INTERPRETER, Role.ADMIN)


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await serve_socket(websocket.app.state.hub, websocket)


@router.get("/api/rtc/ice-servers", response_model=IceServersRead, dependencies=[Depends(signed_in)])
async def get_ice_servers(request: Request, user: CurrentUser) -> IceServersRead:
    """List STUN/TURN servers with fresh TURN credentials for the current user."""
    servers = _hub(request).ice_servers(user.id)
    return IceServersRead(ice_servers=[IceServer.model_validate(s) for s in servers])


@router.post("/api/rtc/ws-token", response_model=WsTokenRead, dependencies=[Depends(signed_in)])
async def create_ws_token(request: Request, user: CurrentUser) -> WsTokenRead:
    """Issue a short-lived token to open the WebSocket from a non-browser client."""
    secret = _hub(request).settings.secret_key
    token = issue_ws_token(secret, user_id=user.id, expires_at=time.time() + WS_TOKEN_SECONDS,
                           session_id=current_session_id(request))
    return WsTokenRead(token=token, expires_in=WS_TOKEN_SECONDS)


@router.post(
    "/api/rtc/echo",
    response_model=EchoAnswer,
    dependencies=[Depends(call_parties)],
    responses={400: {"model": ErrorRead}, 503: {"model": ErrorRead, "description": "All echo peers busy"}},
)
async def create_echo_peer(request: Request, offer: EchoOffer) -> EchoAnswer:
    """Answer an SDP offer with a server-side echo peer for the pre-call check."""
    echo = _hub(request).echo
    try:
        answer = await echo.answer(offer.sdp, offer.type)
    except EchoBusy as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers={"Retry-After": "60"}
        ) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"unusable SDP offer: {exc}") from exc
    return EchoAnswer(sdp=answer.sdp, expires_in=echo.lifetime)
