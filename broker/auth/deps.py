"""The per-route role guard (session and current user: `broker.deps`).

Every route declares who may call it with `dependencies=[Depends(allow(Role.X, ...))]`
(or `Depends(public)` for the few routes open to everyone). The authorisation-matrix test
walks the app's route table and fails for any route without a guard.
"""

from __future__ import annotations

from fastapi import Request, status

from broker.deps import SessionDep, get_current_user
from broker.enums import Role
from broker.errors import CodedHTTPException
from broker.user.models import User

ROLE_FORBIDDEN = "role_forbidden"


class RoleGuard:
    """A dependency that admits only the given roles (an empty tuple: everyone, even anonymous)."""

    def __init__(self, *roles: Role) -> None:
        self.roles: tuple[Role, ...] = roles

    async def __call__(self, request: Request, db: SessionDep) -> None:
        if not self.roles:
            return
        user = await get_current_user(request, db)
        if user.role not in self.roles:
            raise CodedHTTPException(
                status.HTTP_403_FORBIDDEN,
                "Your role may not use this function.",
                code=ROLE_FORBIDDEN,
            )

    def __repr__(self) -> str:
        return f"allow({', '.join(r.value for r in self.roles) or 'public'})"


def allow(*roles: Role) -> RoleGuard:
    return RoleGuard(*roles)


public = RoleGuard()
EVERY_ROLE = tuple(Role)


def office_scope(user: User) -> int | None:
    """The office a user is confined to (caseworkers), or None for roles that see all."""
    return user.office_id if user.role is Role.CASEWORKER else None
