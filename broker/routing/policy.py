"""Who is offered a request first: the routing policy as a pure function.

The live dispatcher (`broker/routing/live.py`) and the simulator (`broker/routing/sim.py`) both
call `rank` with the same kind of inputs, so what the simulator measures is what the server
does. No I/O, no clock: times are plain seconds on whatever clock the caller uses.

Policies
* `longest_idle` — the reference (and the behaviour before this module): longest idle first,
  then the stronger qualification, then the lower id.
* `scarcity` — prefer the interpreter whose absence costs the least coverage in their *other*
  languages. Taking an interpreter for a call removes one free speaker from each of their
  other languages for about one handling time H. For a language m with f free speakers
  (counting the candidate) and expected arrivals N ~ Poisson(λ_m·H) in that time, the expected
  number of m-requests that find nobody free grows by P(N ≥ f) when one of the f is taken
  (E[(N−f+1)⁺] − E[(N−f)⁺] = P(N ≥ f)). The cost of a candidate is the sum of that over their
  other languages; a specialist costs nothing. Costs within `COST_TIE` of each other count as
  equal, so among equally harmless candidates longest-idle keeps the work fair.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RoutingPolicy(StrEnum):
    LONGEST_IDLE = "longest_idle"
    SCARCITY = "scarcity"


DEFAULT_POLICY = RoutingPolicy.SCARCITY
# Coverage costs closer than this (expected lost requests per call taken) are a tie. A rare
# language's cost is itself small (Tigrinya: ~0.003 arrivals in one handling time), so the tie
# must be finer than that or the rare speaker's cost is rounded away: 0.02 captured none of the
# rarest third's busy-speaker unfilled in bench/routing.py, 0.002 a fifth of it (10 seeds).
COST_TIE = 0.002
DEFAULT_HANDLE_SECONDS = 900.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """One eligible interpreter (qualified, free, online, not asked before for this request)."""

    interpreter_id: int
    idle_since: float | None  # seconds on the caller's clock; None = no call yet (goes first)
    qualification_rank: int  # 0 = sworn … 3 = other
    languages: frozenset[str]


@dataclass(frozen=True, slots=True)
class PoolSnapshot:
    """The pool at the moment of the decision (only the scarcity policy reads it).

    `free`: per language, interpreters free for an offer now (available and online).
    `arrivals_per_hour`: expected on-demand arrivals per language in the current hour.
    `handle_seconds`: how long a call keeps an interpreter away (talk + wrap-up, mean).
    """

    free: Mapping[str, int] = field(default_factory=dict)
    arrivals_per_hour: Mapping[str, float] = field(default_factory=dict)
    handle_seconds: float = DEFAULT_HANDLE_SECONDS


EMPTY_POOL = PoolSnapshot()


def _idle_key(candidate: Candidate) -> tuple[float, int, int]:
    idle = -math.inf if candidate.idle_since is None else candidate.idle_since
    return (idle, candidate.qualification_rank, candidate.interpreter_id)


def overflow_probability(expected: float, free: int) -> float:
    """P(N ≥ free) for N ~ Poisson(expected): the marginal coverage lost by taking one of `free`."""
    if free <= 0:
        return 1.0
    if expected <= 0 or free > expected + 10 * math.sqrt(expected) + 10:
        return 0.0  # beyond ten standard deviations the tail is below 1e-9
    term = math.exp(-expected)
    below = term
    for k in range(1, free):
        term *= expected / k
        below += term
    return max(0.0, 1.0 - below)


def coverage_cost(languages: frozenset[str], requested: str, pool: PoolSnapshot) -> float:
    """Expected requests in the candidate's other languages that their absence leaves unserved."""
    hours = pool.handle_seconds / 3600.0
    cost = 0.0
    for code in languages:
        if code == requested:
            continue
        rate = pool.arrivals_per_hour.get(code, 0.0)
        if rate > 0:
            cost += overflow_probability(rate * hours, pool.free.get(code, 1))
    return cost


def rank(*, policy: RoutingPolicy, language: str, candidates: Sequence[Candidate],
         pool: PoolSnapshot = EMPTY_POOL, n: int | None = None) -> list[int]:
    """Interpreter ids in offer order (the first `n`, or all)."""
    count = len(candidates) if n is None else min(n, len(candidates))
    if count <= 0:
        return []
    if policy is RoutingPolicy.LONGEST_IDLE:
        return [c.interpreter_id for c in _first(count, candidates, _idle_key)]
    costs: dict[frozenset[str], int] = {}  # interpreters often share a language set

    def key(candidate: Candidate) -> tuple[int, float, int, int]:
        bucket = costs.get(candidate.languages)
        if bucket is None:
            bucket = int(coverage_cost(candidate.languages, language, pool) / COST_TIE)
            costs[candidate.languages] = bucket
        return (bucket, *_idle_key(candidate))

    return [c.interpreter_id for c in _first(count, candidates, key)]


def _first(count: int, candidates: Sequence[Candidate], key: Callable[[Candidate], Any]) -> list[Candidate]:
    if count == 1:
        return [min(candidates, key=key)]
    if count < len(candidates):
        return heapq.nsmallest(count, candidates, key=key)
    return sorted(candidates, key=key)
