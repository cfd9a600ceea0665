from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit.models import AuditEntry


async def record(
    *,
    db: AsyncSession,
    actor_id: int | None,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the caller's transaction (the caller commits)."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=json.dumps(details, default=str, sort_keys=True) if details else None,
    )
    db.add(entry)
    await db.flush()
    return entry
