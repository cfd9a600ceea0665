from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from broker.auth.deps import EVERY_ROLE, allow, office_scope
from broker.database import utcnow
from broker.deps import CurrentUser, RuntimeDep, SessionDep
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, NotFound
from broker.params import IdPath, IdQuery, Page, PageParams, Text, page_params, paginate
from broker.user import service as user_service
from broker.user.models import User
from broker.user.schemas import ProfileSelfUpdate, UserCreate, UserRead, UserUpdate

router = APIRouter(prefix="/api/users", tags=["users"], responses=COMMON_RESPONSES)


async def _get_visible(db: SessionDep, current: User, user_id: int) -> User:
    user = await user_service.get(db=db, user_id=user_id, office_id=office_scope(current))
    if user is None:
        raise NotFound("User not found.")
    return user


@router.get("", response_model=Page[UserRead],
            dependencies=[Depends(allow(Role.ADMIN, Role.CASEWORKER))])
async def list_users(
    db: SessionDep,
    current: CurrentUser,
    page: Annotated[PageParams, Depends(page_params)],
    role: Role | None = None,
    office_id: IdQuery = None,
    active: bool | None = None,
    q: Annotated[Text | None, Query(max_length=64)] = None,
) -> Page[UserRead]:
    """List users (caseworkers see their own office only)."""
    scope = office_scope(current)
    if scope is not None:
        if office_id is not None and office_id != scope:
            return Page(items=[], total=0, limit=page.limit, offset=page.offset)
        office_id = scope
    stmt = user_service.list_query(office_id=office_id, role=role, active=active, q=q)
    items, total = await paginate(db, stmt, page)
    return Page(items=[UserRead.model_validate(u) for u in items], total=total,
                limit=page.limit, offset=page.offset)


@router.post("", response_model=UserRead, status_code=201, dependencies=[Depends(allow(Role.ADMIN))])
async def create_user(user_in: UserCreate, db: SessionDep, current: CurrentUser) -> User:
    """Create a user."""
    user = await user_service.create(db=db, user_in=user_in, actor_id=current.id)
    await db.commit()
    return user


@router.patch("/me", response_model=UserRead, dependencies=[Depends(allow(*EVERY_ROLE))])
async def update_me(profile_in: ProfileSelfUpdate, db: SessionDep, current: CurrentUser) -> User:
    """Change my own interface language or e-mail address."""
    user = await user_service.update_self(db=db, user=current, profile_in=profile_in)
    await db.commit()
    return user


@router.get("/{user_id}", response_model=UserRead,
            dependencies=[Depends(allow(Role.ADMIN, Role.CASEWORKER))])
async def get_user(user_id: IdPath, db: SessionDep, current: CurrentUser) -> User:
    """Show one user."""
    return await _get_visible(db, current, user_id)


@router.patch("/{user_id}", response_model=UserRead, dependencies=[Depends(allow(Role.ADMIN))])
async def update_user(user_id: IdPath, user_in: UserUpdate, db: SessionDep, current: CurrentUser,
                      runtime: RuntimeDep) -> User:
    """Change a user; `active: false` deactivates (nothing is ever deleted)."""
    user = await _get_visible(db, current, user_id)
    user = await user_service.update(db=db, user=user, user_in=user_in, actor_id=current.id,
                                     settings=runtime.settings, now=utcnow())
    await db.commit()
    if user_in.active is False or user_in.password is not None:
        # Sessions were revoked in the transaction; now close their sockets on every instance.
        await runtime.realtime.sign_out(user.id)
    return user
