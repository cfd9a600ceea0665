from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from broker.auth.deps import EVERY_ROLE, allow, office_scope
from broker.deps import CurrentUser, SessionDep
from broker.enums import OfficeKind, Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.office import service as office_service
from broker.office.models import District, Office
from broker.office.schemas import DistrictRead, OfficeCreate, OfficeRead, OfficeUpdate
from broker.params import IdPath, Page, PageParams, Text, page_params, paginate

router = APIRouter(prefix="/api", tags=["offices"], responses=COMMON_RESPONSES)
READERS = (Role.ADMIN, Role.MANAGER, Role.CASEWORKER)


async def _get_visible(db: SessionDep, current: CurrentUser, office_id: int) -> Office:
    office = await office_service.get(db=db, office_id=office_id, scope=office_scope(current))
    if office is None:
        raise NotFound("Office not found.")
    return office


@router.get("/offices", response_model=Page[OfficeRead], dependencies=[Depends(allow(*READERS))])
async def list_offices(
    db: SessionDep,
    current: CurrentUser,
    page: Annotated[PageParams, Depends(page_params)],
    kind: OfficeKind | None = None,
    district_ags: Annotated[Text | None, Query(pattern=r"^\d{5}$")] = None,
    active: bool | None = None,
    q: Annotated[Text | None, Query(max_length=100)] = None,
) -> Page[OfficeRead]:
    """List offices (a caseworker sees only their own)."""
    stmt = office_service.list_query(
        scope=office_scope(current), kind=kind, district_ags=district_ags, active=active, q=q
    )
    items, total = await paginate(db, stmt, page)
    return Page(items=[OfficeRead.model_validate(o) for o in items], total=total,
                limit=page.limit, offset=page.offset)


@router.post("/offices", response_model=OfficeRead, status_code=201, dependencies=[Depends(allow(Role.ADMIN))])
async def create_office(office_in: OfficeCreate, db: SessionDep, current: CurrentUser) -> Office:
    """Create an office."""
    office = await office_service.create(db=db, office_in=office_in, actor_id=current.id)
    await db.commit()
    return office


@router.get("/offices/{office_id}", response_model=OfficeRead, dependencies=[Depends(allow(*READERS))])
async def get_office(office_id: IdPath, db: SessionDep, current: CurrentUser) -> Office:
    """Show one office."""
    return await _get_visible(db, current, office_id)


@router.patch("/offices/{office_id}", response_model=OfficeRead, dependencies=[Depends(allow(Role.ADMIN))])
async def update_office(office_id: IdPath, office_in: OfficeUpdate, db: SessionDep, current: CurrentUser) -> Office:
    """Change an office; `active: false` deactivates it and keeps its history."""
    office = await _get_visible(db, current, office_id)
    office = await office_service.update(db=db, office=office, office_in=office_in, actor_id=current.id)
    await db.commit()
    return office


@router.get("/districts", response_model=list[DistrictRead], dependencies=[Depends(allow(*EVERY_ROLE))])
async def list_districts(db: SessionDep) -> list[District]:
    """List Thuringia's districts with their AGS codes."""
    return await office_service.list_districts(db=db)
