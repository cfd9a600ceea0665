"""`Idempotency-Key`: a retried create or accept returns the stored result instead of acting twice.

The key row is written in the same transaction as the action, so either both commit or
neither does. Two concurrent calls with one key: the second one's insert (or its action)
fails once the first commits; it rolls back and replays the first one's stored answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import Conflict, DomainError, Invalid
from broker.request.models import IdempotencyKey

KeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
           description="Retry-safe key: a repeat with the same key returns the first result"),
]
Action = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


def body_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


async def _stored(db: AsyncSession, user_id: int, scope: str, key: str, digest: str) -> JSONResponse | None:
    row = await db.get(IdempotencyKey, (user_id, scope, key), populate_existing=True)
    if row is None:
        return None
    if row.body_hash != digest:
        raise Invalid("This Idempotency-Key was already used with a different request.",
                      code="idempotency_key_reused")
    return JSONResponse(status_code=row.status_code, content=json.loads(row.response_body),
                        headers={"Idempotent-Replayed": "true"})


def _remember(db: AsyncSession, user_id: int, scope: str, key: str | None, digest: str, status_code: int,
              body: dict[str, Any]) -> None:
    if key is not None:
        db.add(IdempotencyKey(user_id=user_id, scope=scope, key=key, body_hash=digest,
                              status_code=status_code, response_body=json.dumps(body)))


async def run(*, db: AsyncSession, user_id: int, scope: str, key: str | None, digest: str, action: Action,
              keep: tuple[type[DomainError], ...] = ()) -> JSONResponse:
    """Do the action once per key: commit it with its stored answer (which publishes), answer.

    Errors of a `keep` type are refusals that still record something (unmet demand): their
    transaction commits and the refusal is stored under the key like a success.
    """
    if key is not None:
        stored = await _stored(db, user_id, scope, key, digest)
        if stored is not None:
            await db.rollback()
            return stored
    try:
        try:
            status_code, body = await action()
        except keep as refusal:
            _remember(db, user_id, scope, key, digest, refusal.status_code,
                      {"detail": refusal.message, "code": refusal.code, **refusal.extra})
            await db.commit()
            raise
        _remember(db, user_id, scope, key, digest, status_code, body)
        await db.commit()
    except (IntegrityError, Conflict) as exc:
        await db.rollback()
        if key is not None:
            stored = await _stored(db, user_id, scope, key, digest)
            if stored is not None:
                await db.rollback()
                return stored
        if isinstance(exc, IntegrityError):
            raise Conflict("Concurrent change; please try again.", code="concurrent_change") from exc
        raise
    return JSONResponse(status_code=status_code, content=body)
