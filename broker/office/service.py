from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.enums import OfficeKind
from broker.errors import Conflict, Invalid
from broker.office.models import District, Office
from broker.office.schemas import OfficeCreate, OfficeUpdate


async def get(*, db: AsyncSession, office_id: int, scope: int | None = None) -> Office | None:
    if scope is not None and scope != office_id:
        return None
    return await db.get(Office, office_id)


def list_query(
    *,
    scope: int | None = None,
    kind: OfficeKind | None = None,
    district_ags: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Select[Office]:
    stmt = select(Office).order_by(Office.name)
    if scope is not None:
        stmt = stmt.where(Office.id == scope)
    if kind is not None:
        stmt = stmt.where(Office.kind == kind)
    if district_ags is not None:
        stmt = stmt.where(Office.district_ags == district_ags)
    if active is not None:
        stmt = stmt.where(Office.active.is_(active))
    if q:
        stmt = stmt.where(Office.name.ilike(f"%{q}%"))
    return stmt


async def list_districts(*, db: AsyncSession) -> list[District]:
    return list((await db.execute(select(District).order_by(District.ags))).scalars())


async def _check(db: AsyncSession, name: str | None, district_ags: str | None, office_id: int | None) -> None:
    if district_ags is not None and await db.get(District, district_ags) is None:
        raise Invalid(f"Unknown district (AGS {district_ags}).", code="unknown_district",
                      loc=["body", "district_ags"])
    if name is not None:
        other = (await db.execute(select(Office.id).where(Office.name == name))).scalar_one_or_none()
        if other is not None and other != office_id:
            raise Conflict(f"Office name '{name}' taken.",
                           code="duplicate_office")


async def create(*, db: AsyncSession, office_in: OfficeCreate, actor_id: int | None) -> Office:
    await _check(db, office_in.name, office_in.district_ags, None)
    office = Office(**office_in.model_dump())
    db.add(office)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="office_create", object_type="office",
                               object_id=office.id, details=office_in.model_dump(mode="json"))
    return office


async def update(*, db: AsyncSession, office: Office, office_in: OfficeUpdate, actor_id: int | None) -> Office:
    """Change an office. Deactivation keeps the row: requests and the ledger refer to it."""
    changes = office_in.model_dump(exclude_unset=True, exclude_none=True)
    await _check(db, changes.get("name"), changes.get("district_ags"), office.id)
    for field, value in changes.items():
        setattr(office, field, value)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="office_update", object_type="office",
                               object_id=office.id, details=office_in.model_dump(mode="json", exclude_unset=True))
    return office
