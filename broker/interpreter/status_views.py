"""The interpreter's own status switch (`/api/interpreter/status`) and the early end of wrap-up."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from broker.auth.deps import CurrentUser, SessionDep, allow
from broker.database import utcnow
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.interpreter import presence
from broker.interpreter import service as interpreter_service
from broker.interpreter.models import InterpreterProfile
from broker.request.deps import LiveDep
from broker.request.schemas import StatusRead, StatusUpdate

router = APIRouter(prefix="/api/interpreter", tags=["interpreters"], responses=COMMON_RESPONSES)
INTERPRETER = allow(Role.INTERPRETER)
NO_PROFILE = "Kein Dolmetscher:innen-Profil. / No interpreter profile."


def _found(profile: InterpreterProfile | None) -> InterpreterProfile:
    if profile is None:
        raise NotFound(NO_PROFILE)
    return profile


@router.get("/status", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def get_status(db: SessionDep, user: CurrentUser) -> InterpreterProfile:
    """Show my status, presence and session counters."""
    return _found(await interpreter_service.get(db=db, user_id=user.id))


@router.put("/status", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def put_status(status_in: StatusUpdate, db: SessionDep, user: CurrentUser, live: LiveDep) -> InterpreterProfile:
    """Switch between available and away."""
    profile = _found(await presence.set_status(db=db, user_id=user.id, choice=status_in.status,
                                               settings=live.settings, now=utcnow()))
    await live.commit(db)
    return profile


@router.post("/wrap-up/end", response_model=StatusRead, dependencies=[Depends(INTERPRETER)])
async def end_wrap_up(db: SessionDep, user: CurrentUser, live: LiveDep) -> InterpreterProfile:
    """End the wrap-up early: ready for the next offer."""
    profile = _found(await presence.end_wrap_up(db=db, user_id=user.id, now=utcnow()))
    await live.commit(db)
    return profile
