from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth.deps import allow, public
from broker.booking import calendar as calendar_service
from broker.booking import read as booking_read
from broker.booking import service as booking_service
from broker.booking import slots as slot_service
from broker.booking.scheduled import BookingJobs
from broker.booking.schemas import BookingCreate, BookingRead, CalendarLinkRead, ProposalRead, SlotRead
from broker.config import Settings
from broker.deps import CurrentUser, SessionDep, SettingsDep, runtime_of
from broker.enums import Gender, Media, QualificationWish, RequestStatus, Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.language.schemas import LANGUAGE_CODE
from broker.params import IdPath, IsoDateTime, Page, PageParams, Text, page_params, paginate
from broker.request.models import InterpretingRequest

router = APIRouter(prefix="/api/bookings", tags=["bookings"], responses=COMMON_RESPONSES)
CASEWORKER = allow(Role.CASEWORKER)
INTERPRETER = allow(Role.INTERPRETER)
EVERYONE = allow(Role.CASEWORKER, Role.INTERPRETER, Role.MANAGER, Role.ADMIN)


def _jobs(request: Request) -> BookingJobs | None:
    return runtime_of(request).booking_jobs


async def _one(db: AsyncSession, booking: InterpretingRequest, settings: Settings) -> BookingRead:
    [read] = await booking_read.describe(db=db, bookings=[booking], settings=settings)
    return read


@router.get("/proposals", response_model=list[ProposalRead], dependencies=[Depends(CASEWORKER)])
async def list_proposals(
    db: SessionDep, settings: SettingsDep,
    language_code: Annotated[Text, Query(pattern=LANGUAGE_CODE, max_length=16)],
    purpose: Annotated[Text, Query(min_length=1, max_length=40)],
    start: IsoDateTime,
    duration_minutes: Annotated[int, Query(ge=5, le=24 * 60)],
    media: Media = Media.VIDEO,
    wish_gender: Gender | None = None,
    wish_qualification: QualificationWish = QualificationWish.ANY,
) -> list[ProposalRead]:
    """Propose interpreters free for a slot, fewest booked minutes this month first."""
    booking_in = BookingCreate(language_code=language_code, purpose=purpose, start=start,
                               duration_minutes=duration_minutes, media=media, wish_gender=wish_gender,
                               wish_qualification=wish_qualification)
    found = await booking_service.proposals(db=db, booking_in=booking_in, settings=settings)
    return await booking_read.proposals(db=db, found=found)


@router.get("/slots", response_model=list[SlotRead], dependencies=[Depends(CASEWORKER)])
async def list_slots(
    db: SessionDep, settings: SettingsDep,
    language_code: Annotated[Text, Query(pattern=LANGUAGE_CODE, max_length=16)],
    purpose: Annotated[Text, Query(min_length=1, max_length=40)],
    day: Annotated[date, Query(alias="date", description="The local (Europe/Berlin) day")],
    duration_minutes: Annotated[int, Query(ge=0, le=24 * 60)],
    wish_gender: Gender | None = None,
    wish_qualification: QualificationWish = QualificationWish.ANY,
) -> list[SlotRead]:
    """List the free quarter-hour start times of a day, or say why the day cannot be booked."""
    found = await slot_service.day_slots(db=db, language_code=language_code, purpose=purpose, day=day,
                                         duration_minutes=duration_minutes, settings=settings,
                                         wish_gender=wish_gender, wish_qualification=wish_qualification)
    length = timedelta(minutes=duration_minutes)
    return [SlotRead(start=start, end=start + length, proposals=await booking_read.proposals(db=db, found=free))
            for start, free in found]


@router.post("", response_model=BookingRead, status_code=201, dependencies=[Depends(CASEWORKER)])
async def create_booking(booking_in: BookingCreate, db: SessionDep, current: CurrentUser, settings: SettingsDep,
                         request: Request) -> BookingRead:
    """Book an interpreter (the proposed one, or the next in fair share) for a slot."""
    booking = await booking_service.create(db=db, booking_in=booking_in, caseworker=current, settings=settings)
    await db.commit()
    if (jobs := _jobs(request)) is not None:
        assert booking.scheduled_start is not None
        await jobs.schedule(booking.id, booking.scheduled_start)
    return await _one(db, booking, settings)


@router.get("", response_model=Page[BookingRead], dependencies=[Depends(EVERYONE)])
async def list_bookings(
    db: SessionDep, current: CurrentUser, settings: SettingsDep, page: Annotated[PageParams, Depends(page_params)],
    status: RequestStatus | None = None, start_from: IsoDateTime | None = None,
    start_to: IsoDateTime | None = None,
) -> Page[BookingRead]:
    """List the bookings this user may see (own office, own assignments, or all)."""
    stmt = booking_service.list_query(user=current, status=status, start_from=start_from, start_to=start_to)
    items, total = await paginate(db, stmt, page)
    return Page(items=await booking_read.describe(db=db, bookings=items, settings=settings), total=total,
                limit=page.limit, offset=page.offset)


@router.post("/calendar/token", response_model=CalendarLinkRead, dependencies=[Depends(INTERPRETER)])
async def rotate_calendar_token(db: SessionDep, current: CurrentUser, settings: SettingsDep) -> CalendarLinkRead:
    """Create a new secret calendar address; the previous one stops working."""
    token = await calendar_service.rotate(db=db, interpreter_id=current.id)
    await db.commit()
    url = settings.public_base_url.rstrip("/") + calendar_service.FEED_PATH.format(token=token)
    return CalendarLinkRead(url=url, token=token)


@router.get("/calendar/{token}.ics", response_class=Response, dependencies=[Depends(public)],
            responses={200: {"content": {"text/calendar": {}}}})
async def calendar_feed(token: str, db: SessionDep, settings: SettingsDep) -> Response:
    """Serve an interpreter's bookings as iCalendar (the token is the credential)."""
    interpreter_id = await calendar_service.interpreter_for(db=db, token=token)
    if interpreter_id is None:
        raise NotFound("Calendar not found.")
    body = await calendar_service.feed(db=db, interpreter_id=interpreter_id, base_url=settings.public_base_url)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300"})


@router.get("/{booking_id}", response_model=BookingRead, dependencies=[Depends(EVERYONE)])
async def get_booking(booking_id: IdPath, db: SessionDep, current: CurrentUser, settings: SettingsDep) -> BookingRead:
    """Show a booking."""
    return await _one(db, await booking_service.get_visible(db=db, booking_id=booking_id, user=current),
                      settings)


@router.post("/{booking_id}/confirm", response_model=BookingRead, dependencies=[Depends(INTERPRETER)])
async def confirm_booking(booking_id: IdPath, db: SessionDep, current: CurrentUser,
                          settings: SettingsDep) -> BookingRead:
    """Confirm a booking assigned to you (inside the room window its room opens at once)."""
    booking = await booking_service.get_visible(db=db, booking_id=booking_id, user=current, for_update=True)
    booking = await booking_service.confirm(db=db, booking=booking, interpreter=current, settings=settings)
    await db.commit()
    return await _one(db, booking, settings)


@router.post("/{booking_id}/decline", response_model=BookingRead, dependencies=[Depends(INTERPRETER)])
async def decline_booking(booking_id: IdPath, db: SessionDep, current: CurrentUser,
                          settings: SettingsDep) -> BookingRead:
    """Decline a booking assigned to you; it goes to the next interpreter."""
    booking = await booking_service.get_visible(db=db, booking_id=booking_id, user=current, for_update=True)
    booking = await booking_service.release(db=db, booking=booking, interpreter=current, settings=settings)
    await db.commit()
    return await _one(db, booking, settings)


@router.post("/{booking_id}/cancel", response_model=BookingRead,
             dependencies=[Depends(allow(Role.CASEWORKER, Role.INTERPRETER, Role.ADMIN))])
async def cancel_booking(booking_id: IdPath, db: SessionDep, current: CurrentUser, settings: SettingsDep,
                         request: Request) -> BookingRead:
    """Cancel a booking (late if less than 24 h before); an interpreter's cancel re-assigns it."""
    booking = await booking_service.get_visible(db=db, booking_id=booking_id, user=current, for_update=True)
    booking = await booking_service.cancel(db=db, booking=booking, actor=current, settings=settings)
    await db.commit()
    if booking.status is RequestStatus.CANCELLED and (jobs := _jobs(request)) is not None:
        await jobs.unschedule(booking.id)
    return await _one(db, booking, settings)
