"""The live dispatcher's side of routing: database state in, `policy.rank` decides, locked ids out.

`broker/request/dispatch.py: pick` calls `choose`. Everything read here is turned into the same
plain inputs the simulator builds (`Candidate`, `PoolSnapshot`), so both run the one function.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, RequestMode
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.ledger.models import LedgerEntry, local_keys
from broker.routing.policy import DEFAULT_HANDLE_SECONDS, Candidate, PoolSnapshot, RoutingPolicy, rank
from broker.user.models import User

DEMAND_WEEKS = 12
DEMAND_CACHE_SECONDS = 600.0  # expected demand per hour moves slowly; one read per ten minutes

_LANGUAGES = (select(InterpreterLanguage.interpreter_id, InterpreterLanguage.language_code)
              .where(InterpreterLanguage.interpreter_id.in_(bindparam("ids", expanding=True))))
# Free for an offer now, per language (the eligibility rules without the request's wishes).
_FREE = (select(InterpreterLanguage.language_code, func.count())
         .join(InterpreterProfile, InterpreterProfile.user_id == InterpreterLanguage.interpreter_id)
         .join(User, User.id == InterpreterLanguage.interpreter_id)
         .where(InterpreterProfile.status == InterpreterStatus.AVAILABLE, InterpreterProfile.online.is_(True),
                InterpreterProfile.wants_offers.is_(True), User.active.is_(True))
         .group_by(InterpreterLanguage.language_code))
_LOCK = (select(InterpreterProfile.user_id)
         .where(InterpreterProfile.user_id.in_(bindparam("ids", expanding=True)),
                InterpreterProfile.status == InterpreterStatus.AVAILABLE)
         .with_for_update(skip_locked=True))


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class _DemandCache:
    """Ledger-based expected arrivals per language for each hour of the week, and mean talk."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.loaded_at = -float("inf")
        self.rates: dict[int, dict[str, float]] = {}
        self.talk: dict[str, float] = {}

    async def get(self, db: AsyncSession, now: datetime) -> tuple[dict[int, dict[str, float]], dict[str, float]]:
        if time.monotonic() - self.loaded_at < DEMAND_CACHE_SECONDS:
            return self.rates, self.talk
        since = now - timedelta(weeks=DEMAND_WEEKS)
        rows = await db.execute(
            select(LedgerEntry.local_how, LedgerEntry.language_code, func.count(),
                   func.avg(LedgerEntry.talk_seconds))
            .where(LedgerEntry.requested_at >= since, LedgerEntry.mode == RequestMode.ON_DEMAND)
            .group_by(LedgerEntry.local_how, LedgerEntry.language_code))
        rates: dict[int, dict[str, float]] = defaultdict(dict)
        talk_sum: dict[str, float] = defaultdict(float)
        talk_n: dict[str, int] = defaultdict(int)
        for how, code, count, mean_talk in rows:
            rates[int(how)][code] = int(count) / DEMAND_WEEKS
            talk_sum[code] += float(mean_talk or 0) * int(count)
            talk_n[code] += int(count)
        self.rates = dict(rates)
        self.talk = {code: talk_sum[code] / talk_n[code] for code in talk_n if talk_sum[code] > 0}
        self.loaded_at = time.monotonic()
        return self.rates, self.talk


demand_cache = _DemandCache()


async def pool_snapshot(db: AsyncSession, *, language: str, now: datetime, wrap_up_seconds: float) -> PoolSnapshot:
    rates, talk = await demand_cache.get(db, now)
    free = {code: int(n) for code, n in await db.execute(_FREE)}
    handle = talk.get(language, DEFAULT_HANDLE_SECONDS) + wrap_up_seconds
    return PoolSnapshot(free=free, arrivals_per_hour=rates.get(local_keys(now)[1], {}), handle_seconds=handle)


async def candidates(db: AsyncSession, rows: Sequence[Any], *, with_languages: bool) -> list[Candidate]:
    """(user_id, idle_since, qualification rank) rows → Candidates, with every language they speak."""
    spoken: dict[int, set[str]] = defaultdict(set)
    if with_languages and rows:
        for who, code in await db.execute(_LANGUAGES, {"ids": [row[0] for row in rows]}):
            spoken[who].add(code)
    return [Candidate(interpreter_id=who, idle_since=_seconds(idle), qualification_rank=int(rank_),
                      languages=frozenset(spoken[who])) for who, idle, rank_ in rows]


async def lock_in_order(db: AsyncSession, order: list[int], n: int) -> list[int]:
    """The first n of `order` that can be locked now (FOR UPDATE SKIP LOCKED), in that order."""
    chosen: list[int] = []
    start = 0
    while len(chosen) < n and start < len(order):
        batch = order[start:start + max(n - len(chosen), 1) * 2]
        start += len(batch)
        locked = set((await db.execute(_LOCK, {"ids": batch})).scalars())
        chosen.extend(i for i in batch if i in locked)
    return chosen[:n]


async def choose(db: AsyncSession, *, rows: Sequence[Any], language: str, n: int, policy: RoutingPolicy,
                 now: datetime, wrap_up_seconds: float) -> list[int]:
    """Order the eligible rows with the routing policy and lock the first n that are still free."""
    if not rows or n <= 0:
        return []
    scarcity = policy is RoutingPolicy.SCARCITY
    people = await candidates(db, rows, with_languages=scarcity)
    pool = await pool_snapshot(db, language=language, now=now, wrap_up_seconds=wrap_up_seconds) \
        if scarcity else PoolSnapshot()
    order = rank(policy=policy, language=language, candidates=people, pool=pool)
    return await lock_in_order(db, order, n)
