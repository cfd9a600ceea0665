"""Enqueue notifications inside the caller's transaction; preferences; the admin's outbox view.

`enqueue` only adds a row (and flushes): the caller commits it together with the change that
caused it, so a notification exists if and only if its event does (transactional outbox).
The sender (`sender.py`) delivers committed rows later, at least once.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import utcnow
from broker.enums import OutboxStatus
from broker.notification.kinds import Kind, kinds_for, spec
from broker.notification.models import NotificationPreference, OutboxMessage
from broker.user.models import User


async def enqueue(
    *,
    db: AsyncSession,
    user_id: int,
    kind: Kind | str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Write one outbox row for `user_id`; the caller commits.

    Returns the row id, or None when nothing was written: the user opted out of this kind by
    e-mail, is deactivated, or a row with the same `dedupe_key` exists already (so a job that
    runs twice notifies once). Raises `ValueError` (pydantic's `ValidationError`) for an unknown
    kind or a payload that does not match the kind's schema — a programming error.
    """
    kind = Kind(kind)
    body = spec(kind).payload.model_validate(payload).model_dump(mode="json")
    user = await db.get(User, user_id)
    if user is None:
        raise ValueError(f"no user {user_id}")
    if not user.active or not await wants_email(db=db, user_id=user_id, kind=kind):
        return None
    now = now or utcnow()
    values = {
        "created_at": now,
        "user_id": user_id,
        "kind": kind.value,
        "payload": json.dumps(body, sort_keys=True, ensure_ascii=False),
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "dedupe_key": dedupe_key,
    }
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(OutboxMessage).values(**values)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
    result = await db.execute(stmt.returning(OutboxMessage.id))
    return result.scalar_one_or_none()


async def wants_email(*, db: AsyncSession, user_id: int, kind: Kind | str) -> bool:
    """Whether the user gets this kind by e-mail (yes unless they switched it off)."""
    choice = await db.scalar(
        select(NotificationPreference.email).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == Kind(kind).value
        )
    )
    return True if choice is None else bool(choice)


async def get_preferences(*, db: AsyncSession, user: User) -> dict[Kind, bool]:
    """Every kind the user's role can receive, with whether it comes by e-mail."""
    rows = await db.execute(
        select(NotificationPreference.kind, NotificationPreference.email).where(
            NotificationPreference.user_id == user.id
        )
    )
    chosen = {kind: email for kind, email in rows.all()}
    return {kind: bool(chosen.get(kind.value, True)) for kind in kinds_for(user.role)}


async def set_preferences(*, db: AsyncSession, user: User, choices: dict[Kind, bool]) -> dict[Kind, bool]:
    """Store the given choices (others stay as they are); kinds outside the role raise ValueError."""
    allowed = set(kinds_for(user.role))
    unknown = [k.value for k in choices if k not in allowed]
    if unknown:
        raise ValueError(", ".join(sorted(unknown)))
    for kind, email in choices.items():
        row = await db.get(NotificationPreference, (user.id, kind.value))
        if row is None:
            db.add(NotificationPreference(user_id=user.id, kind=kind.value, email=email))
        else:
            row.email = email
    await db.flush()
    return await get_preferences(db=db, user=user)


def outbox_query(
    *,
    status: OutboxStatus | None = None,
    failures: bool = False,
    kind: Kind | None = None,
    user_id: int | None = None,
) -> Select[Any]:
    """Outbox rows, newest first; `failures` keeps failed rows and pending rows that failed before."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if failures:
        stmt = stmt.where(
            or_(
                OutboxMessage.status == OutboxStatus.FAILED,
                (OutboxMessage.status == OutboxStatus.PENDING) & OutboxMessage.last_error.is_not(None),
            )
        )
    if kind is not None:
        stmt = stmt.where(OutboxMessage.kind == kind.value)
    if user_id is not None:
        stmt = stmt.where(OutboxMessage.user_id == user_id)
    return stmt


async def get_message(*, db: AsyncSession, message_id: int) -> OutboxMessage | None:
    return await db.get(OutboxMessage, message_id)


async def retry(*, db: AsyncSession, message: OutboxMessage, now: datetime | None = None) -> OutboxMessage:
    """Put a failed (or waiting) row back to pending, due now, with a fresh attempt budget."""
    if message.status is OutboxStatus.SENT:
        raise ValueError("already sent")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now or utcnow()
    await db.flush()
    return message
