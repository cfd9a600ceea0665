from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from broker.auth.deps import EVERY_ROLE, allow, office_scope
from broker.database import utcnow
from broker.deps import CurrentUser, SessionDep
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.language import service as language_service
from broker.language.models import Language, Purpose
from broker.language.schemas import (
    LANGUAGE_CODE,
    LanguageCreate,
    LanguageRead,
    LanguageUpdate,
    PurposeCreate,
    PurposeRead,
    PurposeUpdate,
)
from broker.request import service as request_service
from broker.request.schemas import LanguageTierRead

router = APIRouter(prefix="/api", tags=["languages"], responses=COMMON_RESPONSES)
CodePath = Annotated[str, Path(pattern=LANGUAGE_CODE, max_length=16)]
PurposePath = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


@router.get("/languages", response_model=list[LanguageRead], dependencies=[Depends(allow(*EVERY_ROLE))])
async def list_languages(db: SessionDep, active: bool | None = None) -> list[Language]:
    """List languages with German, English and native names."""
    return await language_service.list_all(db=db, active=active)


@router.post("/languages", response_model=LanguageRead, status_code=201,
             dependencies=[Depends(allow(Role.ADMIN))])
async def create_language(language_in: LanguageCreate, db: SessionDep, current: CurrentUser) -> Language:
    """Add a language; names come from CLDR unless given."""
    language = await language_service.create(db=db, language_in=language_in, actor_id=current.id)
    await db.commit()
    return language


@router.patch("/languages/{code}", response_model=LanguageRead, dependencies=[Depends(allow(Role.ADMIN))])
async def update_language(code: CodePath, language_in: LanguageUpdate, db: SessionDep,
                          current: CurrentUser) -> Language:
    """Change or deactivate a language."""
    language = await language_service.get(db=db, code=code)
    if language is None:
        raise NotFound("Language not found.")
    language = await language_service.update(db=db, language=language, language_in=language_in,
                                             actor_id=current.id)
    await db.commit()
    return language


@router.get("/purposes", response_model=list[PurposeRead], dependencies=[Depends(allow(*EVERY_ROLE))])
async def list_purposes(db: SessionDep, active: bool | None = None) -> list[Purpose]:
    """List the purposes (Anliegen) a request can name."""
    return await language_service.list_purposes(db=db, active=active)


@router.post("/purposes", response_model=PurposeRead, status_code=201, dependencies=[Depends(allow(Role.ADMIN))])
async def create_purpose(purpose_in: PurposeCreate, db: SessionDep, current: CurrentUser) -> Purpose:
    """Add a purpose."""
    purpose = await language_service.create_purpose(db=db, purpose_in=purpose_in, actor_id=current.id)
    await db.commit()
    return purpose


@router.patch("/purposes/{code}", response_model=PurposeRead, dependencies=[Depends(allow(Role.ADMIN))])
async def update_purpose(code: PurposePath, purpose_in: PurposeUpdate, db: SessionDep,
                         current: CurrentUser) -> Purpose:
    """Change or deactivate a purpose."""
    purpose = await db.get(Purpose, code)
    if purpose is None:
        raise NotFound("Purpose not found.")
    purpose = await language_service.update_purpose(db=db, purpose=purpose, purpose_in=purpose_in,
                                                    actor_id=current.id)
    await db.commit()
    return purpose


@router.get("/languages/tiers", response_model=list[LanguageTierRead], dependencies=[Depends(allow(*EVERY_ROLE))])
async def language_tiers(db: SessionDep, user: CurrentUser) -> list[LanguageTierRead]:
    """For every language: interpreters online now, the typical wait and how often my office asked."""
    return await request_service.language_tiers(db=db, now=utcnow(), office_id=office_scope(user))
