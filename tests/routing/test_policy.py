"""The routing policy as a pure function: orders, costs, and the simulator's group pre-filter."""

from __future__ import annotations

import math
from itertools import groupby

from hypothesis import given, settings
from hypothesis import strategies as st

from broker.routing.policy import Candidate, PoolSnapshot, RoutingPolicy, overflow_probability, rank


def person(who: int, idle: float | None, *codes: str, rank_: int = 1) -> Candidate:
    return Candidate(interpreter_id=who, idle_since=idle, qualification_rank=rank_, languages=frozenset(codes))


def test_longest_idle_orders_by_idle_then_qualification_then_id() -> None:
    people = [person(1, 50.0, "ar"), person(2, 10.0, "ar", rank_=2), person(3, 10.0, "ar", rank_=0),
              person(4, None, "ar"), person(5, 10.0, "ar", rank_=0)]
    assert rank(policy=RoutingPolicy.LONGEST_IDLE, language="ar", candidates=people) == [4, 3, 5, 2, 1]
    assert rank(policy=RoutingPolicy.LONGEST_IDLE, language="ar", candidates=people, n=2) == [4, 3]


def test_scarcity_keeps_the_only_free_tigrinya_speaker_for_tigrinya() -> None:
    """Arabic request: the longest-idle interpreter is the only free Tigrinya speaker; three others speak Arabic."""
    people = [person(1, 0.0, "ar", "ti"), person(2, 100.0, "ar"), person(3, 200.0, "ar"), person(4, 300.0, "ar")]
    pool = PoolSnapshot(free={"ar": 4, "ti": 1}, arrivals_per_hour={"ar": 6.0, "ti": 0.8}, handle_seconds=1200)
    assert rank(policy=RoutingPolicy.LONGEST_IDLE, language="ar", candidates=people, pool=pool)[0] == 1
    assert rank(policy=RoutingPolicy.SCARCITY, language="ar", candidates=people, pool=pool) == [2, 3, 4, 1]
    # a Tigrinya request still goes to them: their other language costs nothing here
    assert rank(policy=RoutingPolicy.SCARCITY, language="ti", candidates=people[:1], pool=pool) == [1]


def test_scarcity_falls_back_to_longest_idle_when_nothing_is_scarce() -> None:
    people = [person(1, 0.0, "ar", "uk"), person(2, 100.0, "ar")]
    pool = PoolSnapshot(free={"ar": 2, "uk": 12}, arrivals_per_hour={"uk": 2.0}, handle_seconds=1200)
    assert rank(policy=RoutingPolicy.SCARCITY, language="ar", candidates=people, pool=pool) == [1, 2]


def test_overflow_probability_is_the_poisson_tail() -> None:
    assert overflow_probability(0.5, 1) == math.exp(0) - math.exp(-0.5)
    assert abs(overflow_probability(2.0, 3) - (1 - math.exp(-2) * (1 + 2 + 2))) < 1e-12
    assert overflow_probability(0.0, 1) == 0.0 and overflow_probability(3.0, 0) == 1.0
    assert overflow_probability(1.0, 40) == 0.0  # far beyond ten standard deviations


candidates_st = st.lists(st.builds(
    person, st.integers(1, 10_000), st.one_of(st.none(), st.integers(0, 50).map(float)),
    st.sampled_from(["ar", "ti", "fa"]), st.sampled_from(["ar", "ti", "fa", "ku"]), rank_=st.integers(0, 3)),
    min_size=1, max_size=30, unique_by=lambda c: c.interpreter_id)


@settings(deadline=None)
@given(candidates=candidates_st, free=st.dictionaries(st.sampled_from(["ar", "ti", "fa", "ku"]), st.integers(1, 5)),
       policy=st.sampled_from(list(RoutingPolicy)))
def test_ranking_each_groups_front_runner_picks_whom_ranking_everyone_picks(
        candidates: list[Candidate], free: dict[str, int], policy: RoutingPolicy) -> None:
    """The simulator passes only the first (idle, id) of each (languages, qualification) group."""
    pool = PoolSnapshot(free=free, arrivals_per_hour={"ar": 4.0, "ti": 1.0, "fa": 2.0, "ku": 0.5})

    def group(c: Candidate) -> tuple[list[str], int]:
        return sorted(c.languages), c.qualification_rank

    fronts = [min(members, key=lambda c: (-math.inf if c.idle_since is None else c.idle_since, c.interpreter_id))
              for _, members in ((k, list(g)) for k, g in groupby(sorted(candidates, key=group), key=group))]
    assert rank(policy=policy, language="ar", candidates=fronts, pool=pool, n=1) == \
        rank(policy=policy, language="ar", candidates=candidates, pool=pool, n=1)
