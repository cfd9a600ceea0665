"""The live dispatcher chooses exactly what the pure routing function chooses for the same state.

Hypothesis builds a pool (interpreters with one to three languages, qualifications, idle
times, online or away), a recent ledger (the demand the scarcity policy reads) and a request;
the state goes into the real database (SQLite and PostgreSQL) and through `dispatch.pick`,
and the same state, written down by hand, goes into `policy.rank`. Both must name the same
interpreters in the same order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from broker.config import Settings
from broker.database import make_engine, make_sessionmaker, utcnow
from broker.enums import (
    InterpreterStatus,
    LedgerOutcome,
    Media,
    OfficeKind,
    Qualification,
    QualificationWish,
    RequestMode,
    Role,
)
from broker.interpreter.models import InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.request import dispatch
from broker.request.models import InterpretingRequest
from broker.routing import live
from broker.routing.policy import DEFAULT_HANDLE_SECONDS, Candidate, PoolSnapshot, RoutingPolicy, rank
from tests.conftest import add_user, build_world, truncate_all

CODES = ["ar", "uk", "fa", "gsg"]
TALK_SECONDS = 600


@dataclass(frozen=True)
class Person:
    languages: dict[str, Qualification]
    idle_minutes: int | None  # None: never had a call
    online: bool
    wants_offers: bool


people = st.builds(
    Person,
    languages=st.dictionaries(st.sampled_from(CODES), st.sampled_from(list(Qualification)), min_size=1, max_size=3),
    idle_minutes=st.one_of(st.none(), st.integers(0, 240)),
    online=st.sampled_from([True, True, True, False]),  # mostly eligible, so orders have something to differ in
    wants_offers=st.sampled_from([True, True, True, False]),
)


async def _dispatcher_and_function(settings: Settings, pool: list[Person], demand: dict[str, int],
                                   language: str, n: int) -> dict[RoutingPolicy, tuple[list[int], list[int]]]:
    """Per policy: (what the dispatcher picks, what `rank` returns for the hand-written state)."""
    engine = make_engine(settings)
    try:
        await truncate_all(engine)
        live.demand_cache.clear()
        now = utcnow()
        async with make_sessionmaker(engine)() as db:
            await build_world(db)
            ids: list[int] = []
            for k, person in enumerate(pool):
                user = await add_user(db, f"dolmetscher{k}", Role.INTERPRETER, languages=person.languages)
                profile = await db.get(InterpreterProfile, user.id)
                assert profile is not None
                profile.online, profile.wants_offers = person.online, person.wants_offers
                profile.status = (InterpreterStatus.AVAILABLE if person.online and person.wants_offers
                                  else InterpreterStatus.AWAY if person.online else InterpreterStatus.OFFLINE)
                profile.idle_since = None if person.idle_minutes is None else now - timedelta(
                    minutes=person.idle_minutes)
                ids.append(user.id)
            week_ago = now - timedelta(weeks=1)  # the same local hour of the week as now
            for code, count in demand.items():
                db.add_all([LedgerEntry(
                    office_id=1, office_kind=OfficeKind.IMMIGRATION_OFFICE, district_ags="16051", language_code=code,
                    purpose="other", mode=RequestMode.ON_DEMAND, media=Media.VIDEO, requested_at=week_ago,
                    talk_seconds=TALK_SECONDS, outcome=LedgerOutcome.COMPLETED) for _ in range(count)])
            await db.commit()
            request = InterpretingRequest(language_code=language, wish_gender=None,
                                          wish_qualification=QualificationWish.ANY)
            chosen: dict[RoutingPolicy, list[int]] = {}
            for policy in RoutingPolicy:
                routed = settings.model_copy(update={"routing_policy": policy})
                chosen[policy] = await dispatch.pick(db, request, n, settings=routed, now=now)
                await db.rollback()
            # The same state, by hand: who is eligible, who is free per language, what demand.
            free = {code: sum(1 for p in pool if p.online and p.wants_offers and code in p.languages)
                    for code in CODES}
            candidates = []
            for who, person in zip(ids, pool, strict=True):
                if person.online and person.wants_offers and language in person.languages:
                    idle = None if person.idle_minutes is None else (
                        now - timedelta(minutes=person.idle_minutes)).timestamp()
                    candidates.append(Candidate(interpreter_id=who, idle_since=idle,
                                                qualification_rank=person.languages[language].rank,
                                                languages=frozenset(person.languages)))
            handle = (TALK_SECONDS if demand.get(language) else DEFAULT_HANDLE_SECONDS) + settings.wrap_up_seconds
            snapshot = PoolSnapshot(free={c: f for c, f in free.items() if f},
                                    arrivals_per_hour={c: k / live.DEMAND_WEEKS for c, k in demand.items() if k},
                                    handle_seconds=handle)
            return {policy: (chosen[policy], rank(policy=policy, language=language, candidates=candidates,
                                                  pool=snapshot, n=n)) for policy in RoutingPolicy}
    finally:
        await engine.dispose()


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pool=st.lists(people, min_size=2, max_size=8),
       demand=st.dictionaries(st.sampled_from(CODES), st.integers(0, 150), min_size=1, max_size=4),
       language=st.sampled_from(CODES), n=st.integers(1, 3))
def test_dispatcher_offers_whom_the_routing_function_ranks_first(
        settings: Settings, pool: list[Person], demand: dict[str, int], language: str, n: int) -> None:
    for chosen, expected in asyncio.run(_dispatcher_and_function(settings, pool, demand, language, n)).values():
        assert chosen == expected


def test_scarcity_spares_the_only_free_speaker_of_a_language_in_demand(settings: Settings) -> None:
    """Arabic request: the longer idle Arabic+Persian interpreter is the only free Persian speaker."""
    both = Person({"ar": Qualification.CERTIFIED, "fa": Qualification.CERTIFIED}, 100, True, True)
    arabic_only = Person({"ar": Qualification.CERTIFIED}, 10, True, True)
    results = asyncio.run(_dispatcher_and_function(settings, [both, arabic_only], {"fa": 40}, "ar", 2))
    for policy, first in ((RoutingPolicy.LONGEST_IDLE, 0), (RoutingPolicy.SCARCITY, 1)):
        chosen, expected = results[policy]
        assert chosen == expected
        assert chosen[0] == min(chosen) + first  # ids follow insertion order
