"""Routes for on-demand requests (`/api/requests`) and the response tiers (`/api/languages/tiers`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from broker.auth.deps import EVERY_ROLE, CurrentUser, SessionDep, allow, office_scope
from broker.call import service as call_service
from broker.call.models import Call
from broker.database import utcnow
from broker.enums import RequestMode, RequestStatus, Role
from broker.errors import COMMON_RESPONSES, Conflict
from broker.params import IdPath, Page, PageParams, page_params, paginate
from broker.request import estimate, idempotency
from broker.request import service as request_service
from broker.request.deps import LiveDep
from broker.request.realtime import join_event
from broker.request.schemas import GuestLinkRead, JoinRead, LanguageTierRead, RatingIn, RequestCreate, RequestRead

router = APIRouter(prefix="/api/requests", tags=["requests"],
                   responses=COMMON_RESPONSES)
tiers_router = APIRouter(prefix="/api/languages", tags=["languages"], responses=COMMON_RESPONSES)
CASEWORKER = allow(Role.CASEWORKER)
READERS = allow(Role.CASEWORKER, Role.INTERPRETER, Role.ADMIN, Role.MANAGER)
PARTIES = allow(Role.CASEWORKER, Role.INTERPRETER)


@router.post("", response_model=RequestRead, status_code=201, dependencies=[Depends(CASEWORKER)])
async def create_request(request_in: RequestCreate, db: SessionDep, user: CurrentUser, live: LiveDep,
                         key: idempotency.KeyHeader = None) -> JSONResponse:
    """Ask for an interpreter now; the request is offered at once."""

    async def action() -> tuple[int, dict[str, object]]:
        now = utcnow()
        request = await request_service.create(db=db, user=user, request_in=request_in,
                                               settings=live.settings, now=now)
        read = await estimate.read(db=db, request=request, now=now)
        return 201, read.model_dump(mode="json")

    return await idempotency.run(db=db, rt=live.realtime, wake=live.wake, user_id=user.id, scope="request-create",
                                 key=key, digest=idempotency.body_hash(request_in.model_dump(mode="json")),
                                 action=action, keep=(request_service.NoInterpreter,))


@router.get("", response_model=Page[RequestRead], dependencies=[Depends(READERS)])
async def list_requests(db: SessionDep, user: CurrentUser, page: Annotated[PageParams, Depends(page_params)],
                        status: RequestStatus | None = None, mode: RequestMode | None = None) -> Page[RequestRead]:
    """List requests: caseworkers their office's, interpreters their own sessions."""
    items, total = await paginate(db, request_service.list_query(user=user, status=status, mode=mode), page)
    return Page(items=[RequestRead.model_validate(r) for r in items], total=total, limit=page.limit,
                offset=page.offset)


@router.get("/{request_id}", response_model=RequestRead, dependencies=[Depends(READERS)])
async def get_request(request_id: IdPath, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Show a request with its queue position and estimated wait."""
    request = await request_service.get_visible(db=db, user=user, request_id=request_id)
    return await estimate.read(db=db, request=request, now=utcnow())


@router.post("/{request_id}/cancel", response_model=RequestRead, dependencies=[Depends(CASEWORKER)])
async def cancel_request(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> RequestRead:
    """Cancel a waiting request."""
    request = await request_service.cancel(db=db, user=user, request_id=request_id, now=utcnow())
    await live.commit(db)
    return RequestRead.model_validate(request)


@router.post("/{request_id}/callback", response_model=RequestRead, dependencies=[Depends(CASEWORKER)])
async def request_callback(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> RequestRead:
    """Leave the queue; be told when an interpreter for the language is free."""
    request = await request_service.callback(db=db, user=user, request_id=request_id, now=utcnow())
    await live.commit(db)
    return RequestRead.model_validate(request)


@router.post("/{request_id}/connected", response_model=RequestRead, dependencies=[Depends(PARTIES)])
async def report_connected(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> RequestRead:
    """Report that the call's media flows."""
    request = await request_service.mark_connected(db=db, user=user, request_id=request_id, now=utcnow())
    await live.commit(db)
    return RequestRead.model_validate(request)


@router.post("/{request_id}/end", response_model=RequestRead, dependencies=[Depends(PARTIES)])
async def end_call(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> RequestRead:
    """End the call (either party)."""
    request = await request_service.end_call(db=db, user=user, request_id=request_id, settings=live.settings,
                                             now=utcnow())
    await live.commit(db)
    return RequestRead.model_validate(request)


@router.post("/{request_id}/rating", response_model=RequestRead, dependencies=[Depends(CASEWORKER)])
async def rate_call(request_id: IdPath, rating_in: RatingIn, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Rate a finished call (1–5, problem ticks)."""
    request = await request_service.rate(db=db, user=user, request_id=request_id, rating_in=rating_in)
    await db.commit()
    return RequestRead.model_validate(request)


async def _open_call(db: SessionDep, user: CurrentUser, request_id: int,
                     live: LiveDep) -> Call:
    request = await request_service.get_visible(db=db, user=user, request_id=request_id)
    call = await call_service.get_for_request(db=db, request_id=request.id)
    if request.status not in request_service.JOINABLE or call is None or call.ended_at is not None:
        raise Conflict("Kein laufender Anruf. / No call in progress.", code="no_call")
    live.realtime.open_room(call.id, expires_at=call.expires_at)  # idempotent; reopens after a restart
    return call


@router.get("/{request_id}/join", response_model=JoinRead, dependencies=[Depends(PARTIES)])
async def join_call(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> JoinRead:
    """Get a fresh join token for the call's room (e.g. after a reload)."""
    call = await _open_call(db, user, request_id, live)
    role = call_service.COUNTER if user.role is Role.CASEWORKER else call_service.INTERPRETER
    event = join_event(live.realtime, room_id=call.id, request_id=request_id, user_id=user.id, role=role,
                       expires_at=call.expires_at)
    return JoinRead.model_validate(event)


@router.post("/{request_id}/guest-link", response_model=GuestLinkRead, status_code=201,
             dependencies=[Depends(CASEWORKER)])
async def create_guest_link(request_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> GuestLinkRead:
    """Create a one-time link for a third participant; it expires with the call."""
    call = await _open_call(db, user, request_id, live)
    token = live.realtime.issue_join_token(call.id, user_id=None, role=call_service.GUEST,
                                           expires_at=call.expires_at)
    await call_service.remember_guest_link(db=db, call=call, token=token)
    await db.commit()
    url = f"{live.settings.public_base_url.rstrip('/')}/guest.html#room={call.id}&token={token}"
    return GuestLinkRead(url=url, room_id=call.id, expires_at=call.expires_at)


@tiers_router.get("/tiers", response_model=list[LanguageTierRead], dependencies=[Depends(allow(*EVERY_ROLE))])
async def language_tiers(db: SessionDep, user: CurrentUser) -> list[LanguageTierRead]:
    """For every language: interpreters online now, the typical wait and how often my office asked."""
    return await estimate.tiers(db=db, now=utcnow(), office_id=office_scope(user))
