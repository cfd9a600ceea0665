"""Routes for interpreters' offers (`/api/offers`): list, accept (first wins), decline."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from broker.auth.deps import CurrentUser, SessionDep, allow
from broker.call import service as call_service
from broker.database import utcnow
from broker.enums import Role
from broker.errors import COMMON_RESPONSES
from broker.params import IdPath
from broker.request import idempotency, offers
from broker.request.deps import LiveDep
from broker.request.realtime import join_event
from broker.request.schemas import AcceptRead, JoinRead, OfferRead, RequestRead

router = APIRouter(prefix="/api/offers", tags=["offers"],
                   responses=COMMON_RESPONSES)
INTERPRETER = allow(Role.INTERPRETER)


@router.get("", response_model=list[OfferRead], dependencies=[Depends(INTERPRETER)])
async def list_offers(db: SessionDep, user: CurrentUser) -> list[OfferRead]:
    """List my pending offers."""
    return [OfferRead.model_validate(o) for o, _r, _k in await offers.pending_for(db=db, interpreter_id=user.id)]


@router.post("/{offer_id}/accept", response_model=AcceptRead, dependencies=[Depends(INTERPRETER)])
async def accept_offer(offer_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep,
                       key: idempotency.KeyHeader = None) -> JSONResponse:
    """Accept an offer: the first accept wins, the others get 409."""

    async def action() -> tuple[int, dict[str, object]]:
        offer, request, call = await offers.accept(db=db, offer_id=offer_id, user=user, settings=live.settings,
                                                   now=utcnow())
        live.realtime.open_room(call.id, expires_at=call.expires_at)
        join = join_event(live.realtime, room_id=call.id, request_id=request.id, user_id=user.id,
                          role=call_service.INTERPRETER, expires_at=call.expires_at)
        read = AcceptRead(offer_id=offer.id, request=RequestRead.model_validate(request),
                          join=JoinRead.model_validate(join))
        return 200, read.model_dump(mode="json")

    return await idempotency.run(db=db, rt=live.realtime, wake=live.wake, user_id=user.id,
                                 scope="offer-accept", key=key, digest=idempotency.body_hash(offer_id),
                                 action=action)


@router.post("/{offer_id}/decline", response_model=OfferRead, dependencies=[Depends(INTERPRETER)])
async def decline_offer(offer_id: IdPath, db: SessionDep, user: CurrentUser, live: LiveDep) -> OfferRead:
    """Decline an offer; it goes to the next interpreter."""
    offer = await offers.decline(db=db, offer_id=offer_id, user=user, settings=live.settings, now=utcnow())
    await live.commit(db)
    return OfferRead.model_validate(offer)
