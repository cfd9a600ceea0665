"""Routes for on-demand requests (`/api/requests`) and interpreters' offers (`/api/offers`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from broker.auth.deps import allow
from broker.call import service as call_service
from broker.call.models import Call
from broker.database import utcnow
from broker.deps import CurrentUser, RuntimeDep, SessionDep, SettingsDep
from broker.enums import RequestMode, RequestStatus, Role
from broker.errors import COMMON_RESPONSES, Conflict
from broker.params import IdPath, Page, PageParams, page_params, paginate
from broker.request import estimate, idempotency, lifecycle, offers
from broker.request import service as request_service
from broker.request.models import InterpretingRequest
from broker.request.schemas import (
    AcceptRead,
    GuestLinkRead,
    JoinRead,
    OfferRead,
    RatingIn,
    RequestCreate,
    RequestRead,
)

router = APIRouter(prefix="/api", responses=COMMON_RESPONSES)
REQUESTS, OFFERS = "/requests", "/offers"
CASEWORKER = allow(Role.CASEWORKER)
READERS = allow(Role.CASEWORKER, Role.INTERPRETER, Role.ADMIN, Role.MANAGER)
PARTIES = allow(Role.CASEWORKER, Role.INTERPRETER)
INTERPRETER = allow(Role.INTERPRETER)


@router.post(REQUESTS, tags=["requests"], response_model=RequestRead, status_code=201,
             dependencies=[Depends(CASEWORKER)])
async def create_request(request_in: RequestCreate, db: SessionDep, user: CurrentUser, settings: SettingsDep,
                         key: idempotency.KeyHeader = None) -> JSONResponse:
    """Ask for an interpreter now; the request is offered at once."""

    async def action() -> tuple[int, dict[str, object]]:
        now = utcnow()
        request = await request_service.create(db=db, user=user, request_in=request_in,
                                               settings=settings, now=now)
        read = await estimate.read(db=db, request=request, now=now)
        return 201, read.model_dump(mode="json")

    return await idempotency.run(db=db, user_id=user.id, scope="request-create", key=key,
                                 digest=idempotency.body_hash(request_in.model_dump(mode="json")),
                                 action=action, keep=(request_service.NoInterpreter,))


@router.get(REQUESTS, tags=["requests"], response_model=Page[RequestRead], dependencies=[Depends(READERS)])
async def list_requests(db: SessionDep, user: CurrentUser, page: Annotated[PageParams, Depends(page_params)],
                        status: RequestStatus | None = None, mode: RequestMode | None = None) -> Page[RequestRead]:
    """List requests: caseworkers their office's, interpreters their own sessions."""
    items, total = await paginate(db, request_service.list_query(user=user, status=status, mode=mode), page)
    return Page(items=[RequestRead.model_validate(r) for r in items], total=total, limit=page.limit,
                offset=page.offset)


@router.get(REQUESTS + "/lifecycle", tags=["requests"], response_model=dict[str, list[str]],
            dependencies=[Depends(READERS)])
async def request_lifecycle() -> dict[str, list[str]]:
    """The lifecycle's named sets of statuses (waiting, cancellable, in call, joinable, final)."""
    return lifecycle.named_sets()


@router.get(REQUESTS + "/{request_id}", tags=["requests"], response_model=RequestRead, dependencies=[Depends(READERS)])
async def get_request(request_id: IdPath, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Show a request with its queue position and estimated wait."""
    request = await request_service.get_visible(db=db, user=user, request_id=request_id)
    return await estimate.read(db=db, request=request, now=utcnow())


@router.post(REQUESTS + "/{request_id}/cancel", tags=["requests"], response_model=RequestRead,
             dependencies=[Depends(CASEWORKER)])
async def cancel_request(request_id: IdPath, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Cancel a waiting request."""
    request = await request_service.cancel(db=db, user=user, request_id=request_id, now=utcnow())
    await db.commit()
    return RequestRead.model_validate(request)


@router.post(REQUESTS + "/{request_id}/callback", tags=["requests"], response_model=RequestRead,
             dependencies=[Depends(CASEWORKER)])
async def request_callback(request_id: IdPath, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Leave the queue; be told when an interpreter for the language is free."""
    request = await request_service.callback(db=db, user=user, request_id=request_id, now=utcnow())
    await db.commit()
    return RequestRead.model_validate(request)


@router.post(REQUESTS + "/{request_id}/connected", tags=["requests"], response_model=RequestRead,
             dependencies=[Depends(PARTIES)])
async def report_connected(request_id: IdPath, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Report that the call's media flows."""
    request = await request_service.mark_connected(db=db, user=user, request_id=request_id, now=utcnow())
    await db.commit()
    return RequestRead.model_validate(request)


@router.post(REQUESTS + "/{request_id}/end", tags=["requests"], response_model=RequestRead,
             dependencies=[Depends(PARTIES)])
async def end_call(request_id: IdPath, db: SessionDep, user: CurrentUser, settings: SettingsDep) -> RequestRead:
    """End the call (either party)."""
    request = await request_service.end_call(db=db, user=user, request_id=request_id, settings=settings,
                                             now=utcnow())
    await db.commit()
    return RequestRead.model_validate(request)


@router.post(REQUESTS + "/{request_id}/rating", tags=["requests"], response_model=RequestRead,
             dependencies=[Depends(CASEWORKER)])
async def rate_call(request_id: IdPath, rating_in: RatingIn, db: SessionDep, user: CurrentUser) -> RequestRead:
    """Rate a finished call (1–5, problem ticks)."""
    request = await request_service.rate(db=db, user=user, request_id=request_id, rating_in=rating_in)
    await db.commit()
    return RequestRead.model_validate(request)


async def _joinable(db: SessionDep, user: CurrentUser, request_id: int) -> tuple[InterpretingRequest, Call]:
    request = await request_service.get_visible(db=db, user=user, request_id=request_id)
    call = await call_service.joinable(db=db, request=request)
    if call is None:
        raise Conflict("No call in progress.", code="no_call")
    return request, call


@router.get(REQUESTS + "/{request_id}/join", tags=["requests"], response_model=JoinRead,
            dependencies=[Depends(PARTIES)])
async def join_call(request_id: IdPath, db: SessionDep, user: CurrentUser, runtime: RuntimeDep) -> JoinRead:
    """Get a fresh join token for the call's room (e.g. after a reload)."""
    request, call = await _joinable(db, user, request_id)
    return JoinRead.model_validate(call_service.join_for(runtime.realtime, user_id=user.id, request=request, call=call))


@router.post(REQUESTS + "/{request_id}/guest-link", tags=["requests"], response_model=GuestLinkRead, status_code=201,
             dependencies=[Depends(CASEWORKER)])
async def create_guest_link(request_id: IdPath, db: SessionDep, user: CurrentUser,
                            runtime: RuntimeDep) -> GuestLinkRead:
    """Create a one-time link for a third participant; it expires with the call."""
    _request, call = await _joinable(db, user, request_id)
    runtime.realtime.open_room(call.id, expires_at=call.expires_at)  # idempotent; reopens after a restart
    token = runtime.realtime.issue_join_token(call.id, user_id=None, role=call_service.GUEST,
                                           expires_at=call.expires_at)
    await call_service.remember_guest_link(db=db, call=call, token=token)
    await db.commit()
    url = f"{runtime.settings.public_base_url.rstrip('/')}/guest.html#room={call.id}&token={token}"
    return GuestLinkRead(url=url, room_id=call.id, expires_at=call.expires_at)


# --- offers: an interpreter accepts (the first accept wins) or declines ----------------------

@router.get(OFFERS, tags=["offers"], response_model=list[OfferRead], dependencies=[Depends(INTERPRETER)])
async def list_offers(db: SessionDep, user: CurrentUser) -> list[OfferRead]:
    """List my pending offers."""
    return [OfferRead.model_validate(o) for o, _r, _k, _e in await offers.pending_for(db=db, interpreter_id=user.id)]


@router.post(OFFERS + "/{offer_id}/accept", tags=["offers"], response_model=AcceptRead,
             dependencies=[Depends(INTERPRETER)])
async def accept_offer(offer_id: IdPath, db: SessionDep, user: CurrentUser, runtime: RuntimeDep,
                       key: idempotency.KeyHeader = None) -> JSONResponse:
    """Accept an offer: the first accept wins, the others get 409."""

    async def action() -> tuple[int, dict[str, object]]:
        offer, request, call = await offers.accept(db=db, offer_id=offer_id, user=user, settings=runtime.settings,
                                                   now=utcnow())
        join = call_service.join_for(runtime.realtime, user_id=user.id, request=request, call=call)
        read = AcceptRead(offer_id=offer.id, request=RequestRead.model_validate(request),
                          join=JoinRead.model_validate(join))
        return 200, read.model_dump(mode="json")

    return await idempotency.run(db=db, user_id=user.id, scope="offer-accept", key=key,
                                 digest=idempotency.body_hash(offer_id), action=action)


@router.post(OFFERS + "/{offer_id}/decline", tags=["offers"], response_model=OfferRead,
             dependencies=[Depends(INTERPRETER)])
async def decline_offer(offer_id: IdPath, db: SessionDep, user: CurrentUser, settings: SettingsDep) -> OfferRead:
    """Decline an offer; it goes to the next interpreter."""
    offer = await offers.decline(db=db, offer_id=offer_id, user=user, settings=settings, now=utcnow())
    await db.commit()
    return OfferRead.model_validate(offer)
