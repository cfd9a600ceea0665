from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.errors import Conflict, Invalid
from broker.language import cldr
from broker.language.models import Language, Purpose
from broker.language.schemas import LanguageCreate, LanguageUpdate, PurposeCreate, PurposeUpdate


async def get(*, db: AsyncSession, code: str) -> Language | None:
    return await db.get(Language, code)


async def require_active(*, db: AsyncSession, code: str) -> Language:
    """The active language with this code, or a 422 naming the code."""
    language = await db.get(Language, code)
    if language is None or not language.active:
        raise Invalid(f"Unknown language code '{code}'.",
                      code="unknown_language", language=code)
    return language


async def list_all(*, db: AsyncSession, active: bool | None = None) -> list[Language]:
    stmt = select(Language).order_by(Language.name_de)
    if active is not None:
        stmt = stmt.where(Language.active.is_(active))
    return list((await db.execute(stmt)).scalars())


async def create(*, db: AsyncSession, language_in: LanguageCreate, actor_id: int | None) -> Language:
    if await db.get(Language, language_in.code) is not None:
        raise Conflict(f"Language '{language_in.code}' exists.",
                       code="duplicate_language")
    names = cldr.lookup(language_in.code)
    given = (language_in.name_de, language_in.name_en, language_in.name_native)
    if names is None and not all(given):
        raise Invalid(
            f"Unknown language code '{language_in.code}': not in CLDR, give all three names.",
            code="language_names_required", language=language_in.code,
        )
    language = Language(
        code=language_in.code,
        name_de=language_in.name_de or (names.name_de if names else ""),
        name_en=language_in.name_en or (names.name_en if names else ""),
        name_native=language_in.name_native or (names.name_native if names else ""),
        rtl=language_in.rtl if language_in.rtl is not None else bool(names and names.rtl),
        sign_language=language_in.sign_language
        if language_in.sign_language is not None
        else bool(names and names.sign_language),
        active=True,
    )
    db.add(language)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="language_create",
                               object_type="language", object_id=language.code)
    return language


async def update(*, db: AsyncSession, language: Language, language_in: LanguageUpdate,
                 actor_id: int | None) -> Language:
    changes = language_in.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(language, field, value)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="language_update",
                               object_type="language", object_id=language.code, details=changes)
    return language


async def list_purposes(*, db: AsyncSession, active: bool | None = None) -> list[Purpose]:
    stmt = select(Purpose).order_by(Purpose.sort_order, Purpose.code)
    if active is not None:
        stmt = stmt.where(Purpose.active.is_(active))
    return list((await db.execute(stmt)).scalars())


async def require_purpose(*, db: AsyncSession, code: str) -> Purpose:
    purpose = await db.get(Purpose, code)
    if purpose is None or not purpose.active:
        raise Invalid(f"Unknown purpose '{code}'.", code="unknown_purpose", purpose=code)
    return purpose


async def create_purpose(*, db: AsyncSession, purpose_in: PurposeCreate, actor_id: int | None) -> Purpose:
    if await db.get(Purpose, purpose_in.code) is not None:
        raise Conflict(f"Purpose '{purpose_in.code}' exists.", code="duplicate_purpose")
    purpose = Purpose(**purpose_in.model_dump(), active=True)
    db.add(purpose)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="purpose_create",
                               object_type="purpose", object_id=purpose.code)
    return purpose


async def update_purpose(*, db: AsyncSession, purpose: Purpose, purpose_in: PurposeUpdate,
                         actor_id: int | None) -> Purpose:
    changes = purpose_in.model_dump(exclude_unset=True, exclude_none=True)
    for field, value in changes.items():
        setattr(purpose, field, value)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="purpose_update",
                               object_type="purpose", object_id=purpose.code, details=changes)
    return purpose
