"""Routes for interpreter profiles (`/api/interpreters`) and an interpreter's own status (`/api/interpreter`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from broker.auth.deps import allow
from broker.database import utcnow
from broker.deps import CurrentUser, SessionDep, SettingsDep
from broker.enums import InterpreterStatus, Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.interpreter import service as interpreter_service
from broker.interpreter import status as interpreter_status
from broker.interpreter.models import Absence, AvailabilityWindow, InterpreterProfile
from broker.interpreter.schemas import (
    AbsenceCreate,
    AbsenceRead,
    AvailabilityPut,
    ProfileRead,
    ProfileUpdate,
    StatusRead,
    StatusUpdate,
    WindowRead,
)
from broker.language.schemas import LANGUAGE_CODE
from broker.params import IdPath, Page, PageParams, page_params, paginate
from broker.user.models import User

router = APIRouter(prefix="/api", tags=["interpreters"], responses=COMMON_RESPONSES)
SELF_OR_ADMIN = allow(Role.ADMIN, Role.INTERPRETER)
INTERPRETER = allow(Role.INTERPRETER)
NO_PROFILE = "No interpreter profile."


async def _profile(db: SessionDep, current: User, interpreter_id: int) -> InterpreterProfile:
    """The profile, if the current user may see it (interpreters only their own)."""
    if current.role is Role.INTERPRETER and current.id != interpreter_id:
        raise NotFound("Interpreter not found.")
    profile = await interpreter_service.get(db=db, user_id=interpreter_id)
    if profile is None:
        raise NotFound("Interpreter not found.")
    return profile


@router.get("/interpreters", response_model=Page[ProfileRead], dependencies=[Depends(allow(Role.ADMIN, Role.MANAGER))])
async def list_interpreters(
    db: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    language: Annotated[str | None, Query(pattern=LANGUAGE_CODE, max_length=16)] = None,
    status: InterpreterStatus | None = None,
) -> Page[ProfileRead]:
    """List interpreter profiles, filterable by language and status."""
    items, total = await paginate(db, interpreter_service.list_query(language_code=language, status=status), page)
    return Page(items=[ProfileRead.model_validate(p) for p in items], total=total,
                limit=page.limit, offset=page.offset)


@router.get("/interpreters/{interpreter_id}", response_model=ProfileRead, dependencies=[Depends(SELF_OR_ADMIN)])
async def get_interpreter(interpreter_id: IdPath, db: SessionDep, current: CurrentUser) -> InterpreterProfile:
    """Show an interpreter's profile."""
    return await _profile(db, current, interpreter_id)


@router.patch("/interpreters/{interpreter_id}", response_model=ProfileRead, dependencies=[Depends(allow(Role.ADMIN))])
async def update_interpreter(interpreter_id: IdPath, profile_in: ProfileUpdate, db: SessionDep,
                             current: CurrentUser) -> InterpreterProfile:
    """Set languages with qualification, gender and the session limit."""
    profile = await _profile(db, current, interpreter_id)
    profile = await interpreter_service.update_profile(db=db, profile=profile, profile_in=profile_in,
                                                       actor_id=current.id)
    await db.commit()
    await db.refresh(profile)
    return profile


@router.get("/interpreters/{interpreter_id}/availability", response_model=list[WindowRead],
            dependencies=[Depends(SELF_OR_ADMIN)])
async def get_availability(interpreter_id: IdPath, db: SessionDep,
                           current: CurrentUser) -> list[AvailabilityWindow]:
    """Show the weekly availability windows."""
    await _profile(db, current, interpreter_id)
    return await interpreter_service.list_windows(db=db, interpreter_id=interpreter_id)


@router.put("/interpreters/{interpreter_id}/availability", response_model=list[WindowRead],
            dependencies=[Depends(SELF_OR_ADMIN)])
async def put_availability(interpreter_id: IdPath, availability_in: AvailabilityPut, db: SessionDep,
                           current: CurrentUser) -> list[AvailabilityWindow]:
    """Replace the weekly availability windows."""
    await _profile(db, current, interpreter_id)
    windows = await interpreter_service.replace_windows(
        db=db, interpreter_id=interpreter_id, availability_in=availability_in, actor_id=current.id
    )
    await db.commit()
    return windows


@router.get("/interpreters/{interpreter_id}/absences", response_model=list[AbsenceRead],
            dependencies=[Depends(SELF_OR_ADMIN)])
async def list_absences(interpreter_id: IdPath, db: SessionDep, current: CurrentUser) -> list[Absence]:
    """List absences."""
    await _profile(db, current, interpreter_id)
    return await interpreter_service.list_absences(db=db, interpreter_id=interpreter_id)


@router.post("/interpreters/{interpreter_id}/absences", response_model=AbsenceRead, status_code=201,
             dependencies=[Depends(SELF_OR_ADMIN)])
async def add_absence(interpreter_id: IdPath, absence_in: AbsenceCreate, db: SessionDep,
                      current: CurrentUser) -> Absence:
    """Add an absence (holiday, illness)."""
    await _profile(db, current, interpreter_id)
    absence = await interpreter_service.add_absence(db=db, interpreter_id=interpreter_id,
                                                    absence_in=absence_in, actor_id=current.id)
    await db.commit()
    return absence


@router.delete("/interpreters/{interpreter_id}/absences/{absence_id}", status_code=204, response_class=Response,
               dependencies=[Depends(SELF_OR_ADMIN)])
async def remove_absence(interpreter_id: IdPath, absence_id: IdPath, db: SessionDep,
                         current: CurrentUser) -> None:
    """Remove an absence."""
    await _profile(db, current, interpreter_id)
    if not await interpreter_service.remove_absence(db=db, interpreter_id=interpreter_id,
                                                    absence_id=absence_id, actor_id=current.id):
        raise NotFound("Absence not found.")
    await db.commit()


# --- the interpreter's own status switch and the early end of wrap-up ----------------------

def _found(profile: InterpreterProfile | None) -> InterpreterProfile:
    if profile is None:
        raise NotFound(NO_PROFILE)
    return profile


@router.get("/interpreter/status", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def get_status(db: SessionDep, user: CurrentUser) -> InterpreterProfile:
    """Show my status, presence and session counters."""
    return _found(await interpreter_service.get(db=db, user_id=user.id))


@router.put("/interpreter/status", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def put_status(status_in: StatusUpdate, db: SessionDep, user: CurrentUser,
                     settings: SettingsDep) -> InterpreterProfile:
    """Switch between available and away."""
    profile = _found(await interpreter_status.set_status(db=db, user_id=user.id, choice=status_in.status,
                                               settings=settings, now=utcnow()))
    await db.commit()
    return profile


@router.post("/interpreter/wrap-up/end", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def end_wrap_up(db: SessionDep, user: CurrentUser) -> InterpreterProfile:
    """End the wrap-up early: ready for the next offer."""
    profile = _found(await interpreter_status.end_wrap_up(db=db, user_id=user.id, now=utcnow()))
    await db.commit()
    return profile
