"""What a caseworker sees before and while waiting: response tiers, queue position, estimate.

The typical wait of a language is the median time from request to acceptance over its last
`HISTORY` accepted on-demand requests (of the last `HISTORY_DAYS` days). A waiting request's
estimate scales that by its queue position over the interpreters online for the language.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import datetime, timedelta
from statistics import median

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, RequestMode, RequestStatus
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.language.models import Language
from broker.ledger.models import LedgerEntry
from broker.request.lifecycle import WAITING
from broker.request.models import InterpretingRequest
from broker.request.schemas import LanguageTierRead, RequestRead, Tier
from broker.user.models import User

HISTORY = 50
HISTORY_DAYS = 30
OFFICE_USAGE_DAYS = 90
BUSY = (InterpreterStatus.OFFERED, InterpreterStatus.IN_SESSION, InterpreterStatus.WRAP_UP)


_cache: dict[str | None, tuple[float, dict[str, int]]] = {}
CACHE_SECONDS = 10.0


async def typical_waits(*, db: AsyncSession, now: datetime,
                        language_code: str | None = None) -> dict[str, int]:
    """Median seconds from request to acceptance per language (recent history, cached briefly).

    A statistic over the last requests moves slowly; caching it per process for a few seconds
    keeps it off the hot path of every create and every poll of a waiting request.
    """
    hit = _cache.get(language_code)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    result = await _typical_waits(db=db, now=now, language_code=language_code)
    _cache[language_code] = (time.monotonic(), result)
    return result


async def _typical_waits(*, db: AsyncSession, now: datetime, language_code: str | None) -> dict[str, int]:
    stmt = (select(InterpretingRequest.language_code, InterpretingRequest.created_at,
                   InterpretingRequest.accepted_at)
            .where(InterpretingRequest.mode == RequestMode.ON_DEMAND,
                   InterpretingRequest.accepted_at.is_not(None),
                   InterpretingRequest.created_at >= now - timedelta(days=HISTORY_DAYS))
            .order_by(InterpretingRequest.created_at.desc()).limit(20_000))
    if language_code is not None:
        stmt = stmt.where(InterpretingRequest.language_code == language_code).limit(HISTORY)
    waits: dict[str, list[float]] = defaultdict(list)
    for code, created, accepted in (await db.execute(stmt)).all():
        if accepted is not None and len(waits[code]) < HISTORY:
            waits[code].append((accepted - created).total_seconds())
    return {code: round(median(values)) for code, values in waits.items() if values}


async def _interpreter_counts(db: AsyncSession,
                              language_code: str | None = None) -> dict[str, tuple[int, int, int]]:
    """(registered, on duty, available) per language.

    On duty: connected, or in a call whose socket dropped, and not switched to away: an away
    interpreter is online but takes no request, so counting them would tell the counter that
    everyone is busy and give a queue estimate nobody will serve.
    """
    online = InterpreterProfile.wants_offers.is_(True) & (
        InterpreterProfile.online.is_(True) | InterpreterProfile.status.in_(BUSY))
    available = (InterpreterProfile.online.is_(True) & InterpreterProfile.wants_offers.is_(True)
                 & (InterpreterProfile.status == InterpreterStatus.AVAILABLE))
    stmt = (select(InterpreterLanguage.language_code, func.count(),
                   func.sum(case((online, 1), else_=0)), func.sum(case((available, 1), else_=0)))
            .join(InterpreterProfile, InterpreterProfile.user_id == InterpreterLanguage.interpreter_id)
            .join(User, User.id == InterpreterLanguage.interpreter_id)
            .where(User.active.is_(True))
            .group_by(InterpreterLanguage.language_code))
    if language_code is not None:
        stmt = stmt.where(InterpreterLanguage.language_code == language_code)
    return {code: (int(n), int(o or 0), int(a or 0)) for code, n, o, a in (await db.execute(stmt)).all()}


async def office_requests(*, db: AsyncSession, office_id: int | None, now: datetime) -> dict[str, int]:
    """How often the office asked for each language in the last `OFFICE_USAGE_DAYS` days (from the ledger)."""
    if office_id is None:
        return {}
    stmt = (select(LedgerEntry.language_code, func.count())
            .where(LedgerEntry.office_id == office_id,
                   LedgerEntry.requested_at >= now - timedelta(days=OFFICE_USAGE_DAYS))
            .group_by(LedgerEntry.language_code))
    return {code: int(n) for code, n in (await db.execute(stmt)).all()}


async def tiers(*, db: AsyncSession, now: datetime, office_id: int | None = None) -> list[LanguageTierRead]:
    """For every active language: is someone online now, how long one typically waits, how often the office asks."""
    languages = (await db.execute(select(Language).where(Language.active.is_(True))
                                  .order_by(Language.name_de))).scalars()
    counts = await _interpreter_counts(db)
    waits = await typical_waits(db=db, now=now)
    usage = await office_requests(db=db, office_id=office_id, now=now)
    result = []
    for language in languages:
        registered, online, available = counts.get(language.code, (0, 0, 0))
        tier = (Tier.NOW if available else Tier.SOON if online else Tier.BOOKING if registered else Tier.NONE)
        result.append(LanguageTierRead(
            language_code=language.code, name_de=language.name_de, name_en=language.name_en,
            name_native=language.name_native, tier=tier, interpreters_registered=registered,
            interpreters_online=online, interpreters_available=available,
            typical_wait_seconds=waits.get(language.code), office_requests=usage.get(language.code, 0)))
    return result


async def queue_position(*, db: AsyncSession, request: InterpretingRequest) -> int:
    """1 + the waiting requests for the same language that are served before this one."""
    urgent = request.priority.value == "urgent"
    ahead = (InterpretingRequest.created_at < request.created_at) | (
        (InterpretingRequest.created_at == request.created_at) & (InterpretingRequest.id < request.id))
    if urgent:
        ahead = (InterpretingRequest.priority == "urgent") & ahead
    else:
        ahead = (InterpretingRequest.priority == "urgent") | ahead
    stmt = select(func.count()).select_from(InterpretingRequest).where(
        InterpretingRequest.language_code == request.language_code,
        InterpretingRequest.mode == RequestMode.ON_DEMAND,
        InterpretingRequest.status.in_(WAITING), ahead)
    return 1 + int((await db.execute(stmt)).scalar_one())


async def read(*, db: AsyncSession, request: InterpretingRequest, now: datetime) -> RequestRead:
    """The request as the API shows it, with queue position and estimate while it waits."""
    out = RequestRead.model_validate(request)
    if request.status not in WAITING:
        return out
    typical = (await typical_waits(db=db, now=now, language_code=request.language_code)).get(
        request.language_code)
    waited = (now - request.created_at).total_seconds()
    if request.status is RequestStatus.OFFERED:
        # Being offered right now: next in line; the typical wait minus the time already waited.
        out.queue_position = 1
        out.estimated_wait_seconds = None if typical is None else max(0, round(typical - waited))
        return out
    position = await queue_position(db=db, request=request)
    _registered, online, _available = (await _interpreter_counts(db, request.language_code)).get(
        request.language_code, (0, 0, 0))
    estimate = None
    if online and typical is not None:
        estimate = max(0, round(typical * math.ceil(position / online) - waited))
    out.queue_position, out.estimated_wait_seconds = position, estimate
    return out

