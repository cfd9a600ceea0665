"""The sign-in throttle (OWASP ASVS 2.2): counters per account and per source in the database.

Rules (docs/security.md): the first `free_attempts` within the window pass at once; from then on
each counted attempt makes the next one wait `base × 2ⁿ`, capped. Check and count are one step:
the counter rows are locked (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already
serialises writers), checked, counted and committed before the password is verified, so parallel
guesses cannot all pass a check that none of them has counted yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth.models import LoginCounter
from broker.config import Settings

# A new counter's mark: not `now`, which each request reads before it waits for the row lock, so
# a concurrent request that read an earlier `now` would find itself refused.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_DOUBLINGS = 30  # 2**30 × any sane base is far past every cap: no float overflow


@dataclass(frozen=True)
class Rule:
    free_attempts: int
    base_seconds: float
    max_delay_seconds: float
    window_seconds: float

    def delay(self, attempts: int) -> float:
        """Seconds the next attempt must wait after `attempts` counted ones."""
        if attempts < self.free_attempts:
            return 0.0
        doublings = min(attempts - self.free_attempts, _MAX_DOUBLINGS)
        return min(self.base_seconds * 2**doublings, self.max_delay_seconds)


@dataclass(frozen=True)
class Keys:
    account: str
    source: str


class Gate:
    """Sign-ins for the same counters queue here, in this process, before they take a database
    connection: fifty parallel guesses for one account would otherwise hold fifty pooled
    connections while they wait for one row lock, and starve every other request of the pool.
    The database lock still decides between instances; this only keeps the waiting cheap."""

    STRIPES = 64

    def __init__(self) -> None:
        self._locks = [asyncio.Lock() for _ in range(self.STRIPES)]

    @contextlib.asynccontextmanager
    async def hold(self, keys: Keys) -> AsyncIterator[None]:
        stripes = sorted({zlib.crc32(k.encode()) % self.STRIPES for k in (keys.account, keys.source)})
        async with contextlib.AsyncExitStack() as stack:
            for stripe in stripes:  # always in ascending order: no two sign-ins wait on each other
                await stack.enter_async_context(self._locks[stripe])
            yield


def account_rule(settings: Settings) -> Rule:
    return Rule(settings.login_account_free_attempts, settings.login_delay_base_seconds,
                settings.login_account_max_delay_seconds, settings.login_window_seconds)


def source_rule(settings: Settings) -> Rule:
    return Rule(settings.login_source_free_attempts, settings.login_delay_base_seconds,
                settings.login_source_max_delay_seconds, settings.login_window_seconds)


def keys_for(*, username: str, source: str) -> Keys:
    return Keys(account=f"account:{username.strip().lower()[:100]}", source=f"source:{source[:100]}")


async def _ensure_rows(db: AsyncSession, keys: list[str], now: datetime) -> None:
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    for key in keys:
        stmt = insert(LoginCounter).values(key=key, attempts=0, last_attempt_at=now, next_allowed_at=_LONG_AGO)
        await db.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


async def admit(*, db: AsyncSession, keys: Keys, settings: Settings, now: datetime) -> int:
    """Count one attempt against the account and the source, or none if either must still wait.

    Returns 0 when the attempt may go on (the caller commits at once), else the whole seconds to
    wait (the caller rolls back: nothing was counted).
    """
    rules = {keys.account: account_rule(settings), keys.source: source_rule(settings)}
    ordered = sorted(rules)  # one lock order for every request: no deadlock between two logins
    await _ensure_rows(db, ordered, now)
    stmt = (select(LoginCounter).where(LoginCounter.key.in_(ordered)).order_by(LoginCounter.key)
            .with_for_update().execution_options(populate_existing=True))
    counters = list((await db.execute(stmt)).scalars())
    wait = max((c.next_allowed_at - now).total_seconds() for c in counters)
    if wait > 0:
        return int(wait) + (0 if wait.is_integer() else 1)
    for counter in counters:
        rule = rules[counter.key]
        if (now - counter.last_attempt_at).total_seconds() >= rule.window_seconds:
            counter.attempts = 0  # quiet for a whole window: forgotten
        counter.attempts += 1
        counter.last_attempt_at = now
        if delay := rule.delay(counter.attempts):
            # Only a real delay moves the mark: `now` was read before the lock, so a free attempt
            # stamping it could put the mark after a later request's `now` and refuse that one.
            counter.next_allowed_at = now + timedelta(seconds=delay)
    await db.flush()
    return 0


async def succeeded(*, db: AsyncSession, keys: Keys) -> None:
    """The password was right: the account starts afresh; the source only takes back this attempt,
    so a sprayer holding one valid account cannot wipe the counter that slows the spraying."""
    await db.execute(update(LoginCounter).where(LoginCounter.key == keys.account).values(attempts=0))
    await db.execute(update(LoginCounter).where(LoginCounter.key == keys.source, LoginCounter.attempts > 0)
                     .values(attempts=LoginCounter.attempts - 1))
