from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit import service as audit_service
from broker.enums import InterpreterStatus
from broker.interpreter.models import Absence, AvailabilityWindow, InterpreterLanguage, InterpreterProfile
from broker.interpreter.schemas import AbsenceCreate, AvailabilityPut, ProfileUpdate
from broker.language import service as language_service


async def get(*, db: AsyncSession, user_id: int) -> InterpreterProfile | None:
    return await db.get(InterpreterProfile, user_id)


def list_query(*, language_code: str | None = None,
               status: InterpreterStatus | None = None) -> Select[InterpreterProfile]:
    stmt = select(InterpreterProfile).order_by(InterpreterProfile.user_id)
    if language_code is not None:
        stmt = stmt.where(
            InterpreterProfile.user_id.in_(
                select(InterpreterLanguage.interpreter_id).where(
                    InterpreterLanguage.language_code == language_code
                )
            )
        )
    if status is not None:
        stmt = stmt.where(InterpreterProfile.status == status)
    return stmt


async def update_profile(*, db: AsyncSession, profile: InterpreterProfile, profile_in: ProfileUpdate,
                         actor_id: int | None) -> InterpreterProfile:
    changes = profile_in.model_dump(exclude_unset=True)
    if "gender" in changes:
        profile.gender = profile_in.gender
    if profile_in.max_session_minutes is not None:
        profile.max_session_minutes = profile_in.max_session_minutes
    if profile_in.languages is not None:
        for item in profile_in.languages:
            await language_service.require_active(db=db, code=item.language_code)
        wanted = {item.language_code: item.qualification for item in profile_in.languages}
        for existing in list(profile.languages):
            if existing.language_code not in wanted:
                profile.languages.remove(existing)
            else:
                existing.qualification = wanted.pop(existing.language_code)
        for code, qualification in wanted.items():
            profile.languages.append(
                InterpreterLanguage(interpreter_id=profile.user_id, language_code=code,
                                    qualification=qualification)
            )
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="interpreter_update",
                               object_type="interpreter", object_id=profile.user_id,
                               details=profile_in.model_dump(mode="json", exclude_unset=True))
    return profile


async def list_windows(*, db: AsyncSession, interpreter_id: int) -> list[AvailabilityWindow]:
    stmt = (select(AvailabilityWindow).where(AvailabilityWindow.interpreter_id == interpreter_id)
            .order_by(AvailabilityWindow.weekday, AvailabilityWindow.start_time))
    return list((await db.execute(stmt)).scalars())


async def replace_windows(*, db: AsyncSession, interpreter_id: int, availability_in: AvailabilityPut,
                          actor_id: int | None) -> list[AvailabilityWindow]:
    await db.execute(delete(AvailabilityWindow).where(AvailabilityWindow.interpreter_id == interpreter_id))
    for window in availability_in.windows:
        db.add(AvailabilityWindow(interpreter_id=interpreter_id, **window.model_dump()))
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="availability_replace",
                               object_type="interpreter", object_id=interpreter_id,
                               details={"windows": len(availability_in.windows)})
    return await list_windows(db=db, interpreter_id=interpreter_id)


async def list_absences(*, db: AsyncSession, interpreter_id: int) -> list[Absence]:
    stmt = select(Absence).where(Absence.interpreter_id == interpreter_id).order_by(Absence.starts_at)
    return list((await db.execute(stmt)).scalars())


async def add_absence(*, db: AsyncSession, interpreter_id: int, absence_in: AbsenceCreate,
                      actor_id: int | None) -> Absence:
    absence = Absence(interpreter_id=interpreter_id, **absence_in.model_dump())
    db.add(absence)
    await db.flush()
    await audit_service.record(db=db, actor_id=actor_id, action="absence_add",
                               object_type="interpreter", object_id=interpreter_id)
    return absence


async def remove_absence(*, db: AsyncSession, interpreter_id: int, absence_id: int,
                         actor_id: int | None) -> bool:
    result = await db.execute(
        delete(Absence).where(Absence.id == absence_id, Absence.interpreter_id == interpreter_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await audit_service.record(db=db, actor_id=actor_id, action="absence_remove",
                               object_type="interpreter", object_id=interpreter_id)
    return True
