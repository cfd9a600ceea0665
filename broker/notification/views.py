"""Notification preferences for everyone; the outbox (deliveries and failures) for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from broker.auth.deps import EVERY_ROLE, allow
from broker.deps import CurrentUser, SessionDep
from broker.enums import OutboxStatus, Role
from broker.errors import COMMON_RESPONSES, Conflict, Invalid, NotFound
from broker.notification import service as notification_service
from broker.notification.kinds import Kind
from broker.notification.models import OutboxMessage
from broker.notification.schemas import (
    OutboxDetail,
    OutboxRead,
    PreferenceItem,
    PreferencesRead,
    PreferencesUpdate,
)
from broker.params import IdPath, IdQuery, Page, PageParams, page_params, paginate

preferences_router = APIRouter(prefix="/api/notifications", tags=["notifications"],
                               responses=COMMON_RESPONSES)
outbox_router = APIRouter(prefix="/api/admin/outbox", tags=["notifications"], responses=COMMON_RESPONSES)


def _read(choices: dict[Kind, bool]) -> PreferencesRead:
    return PreferencesRead(items=[PreferenceItem(kind=k, email=v) for k, v in choices.items()])


@preferences_router.get("/preferences", response_model=PreferencesRead,
                        dependencies=[Depends(allow(*EVERY_ROLE))])
async def get_preferences(db: SessionDep, current: CurrentUser) -> PreferencesRead:
    """Show which notifications I get by e-mail."""
    return _read(await notification_service.get_preferences(db=db, user=current))


@preferences_router.put("/preferences", response_model=PreferencesRead,
                        dependencies=[Depends(allow(*EVERY_ROLE))])
async def put_preferences(body: PreferencesUpdate, db: SessionDep, current: CurrentUser) -> PreferencesRead:
    """Choose which notifications I get by e-mail."""
    try:
        choices = await notification_service.set_preferences(
            db=db, user=current, choices={item.kind: item.email for item in body.items}
        )
    except ValueError as exc:
        raise Invalid(f"Not for your role: {exc}", code="kind_not_for_role", loc=["body", "items"]) from exc
    await db.commit()
    return _read(choices)


@outbox_router.get("", response_model=Page[OutboxRead], dependencies=[Depends(allow(Role.ADMIN))])
async def list_outbox(
    db: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: OutboxStatus | None = None,
    failures: bool = False,
    kind: Kind | None = None,
    user_id: IdQuery = None,
) -> Page[OutboxRead]:
    """List outgoing notifications, newest first (`failures=true`: only those with problems)."""
    stmt = notification_service.outbox_query(status=status, failures=failures, kind=kind, user_id=user_id)
    items, total = await paginate(db, stmt, page)
    return Page(items=[OutboxRead.model_validate(m) for m in items], total=total,
                limit=page.limit, offset=page.offset)


async def _get(db: SessionDep, message_id: int) -> OutboxMessage:
    message = await notification_service.get_message(db=db, message_id=message_id)
    if message is None:
        raise NotFound("Message not found.")
    return message


@outbox_router.get("/{message_id}", response_model=OutboxDetail, dependencies=[Depends(allow(Role.ADMIN))])
async def get_outbox_message(message_id: IdPath, db: SessionDep) -> OutboxMessage:
    """Show one notification with its payload and, without SMTP, the mail as written to the log."""
    return await _get(db, message_id)


@outbox_router.post("/{message_id}/retry", response_model=OutboxRead,
                    dependencies=[Depends(allow(Role.ADMIN))])
async def retry_outbox_message(message_id: IdPath, db: SessionDep) -> OutboxMessage:
    """Send a failed notification again."""
    message = await _get(db, message_id)
    try:
        await notification_service.retry(db=db, message=message)
    except ValueError as exc:
        raise Conflict("Already sent.", code="already_sent") from exc
    await db.commit()
    return message


router = APIRouter()
router.include_router(preferences_router)
router.include_router(outbox_router)
