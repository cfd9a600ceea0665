"""Long horizons on every core: a run cut into whole-week stretches, simulated side by side.

A simulated year at 20× Thuringia's volume is ~5 million events, minutes on one core. The
service empties every night (nobody waits longer than the maximum wait, calls end), so a week
boundary carries almost no state: each stretch starts empty on the scenario's start weekday
and the stretches' results are summed as `combine` sums replications. What is lost at a seam
is the queue and the calls of a Monday 00:00 (a few night calls in a year of them).

Stretches are seeded from (seed, index), so a parallel run is reproducible and equals the
same stretches run one after another.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor

from broker.routing.policy import RoutingPolicy
from broker.routing.results import SimulationResult
from broker.routing.scenario import Scenario, ScenarioError
from broker.routing.sim import simulate
from broker.routing.summary import combine

WEEK_DAYS = 7.0


def stretches(days: float, parts: int) -> list[float]:
    """`days` cut into at most `parts` lengths, all whole weeks except the last (weekdays stay aligned)."""
    if not days > 0:
        raise ScenarioError("days", "must be positive")
    if parts < 1:
        raise ScenarioError("workers", "must be at least 1")
    weeks = math.ceil(days / WEEK_DAYS)
    per = math.ceil(weeks / min(parts, weeks))
    lengths: list[float] = []
    left = float(days)
    while left > 1e-9:
        length = min(per * WEEK_DAYS, left)
        lengths.append(length)
        left -= length
    return lengths


def stretch_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def _run(args: tuple[Scenario, RoutingPolicy | str, int, float, float, float]) -> SimulationResult:
    scenario, policy, seed, days, answer_seconds, max_wall_seconds = args
    return simulate(scenario, policy=policy, seed=seed, days=days, answer_seconds=answer_seconds,
                    max_wall_seconds=max_wall_seconds)


def simulate_parallel(scenario: Scenario, *, policy: RoutingPolicy | str = RoutingPolicy.SCARCITY, seed: int = 0,
                      days: float | None = None, workers: int | None = None, answer_seconds: float = 60.0,
                      max_wall_seconds: float = 900.0) -> SimulationResult:
    """One long run as whole-week stretches on `workers` processes (default: every core), summed."""
    horizon = scenario.days if days is None else days
    if not 0 < horizon <= 3_660:
        raise ScenarioError("days", "must lie in (0, 3660]")
    count = workers or os.cpu_count() or 1
    jobs = [(scenario, policy, stretch_seed(seed, k), length, answer_seconds, max_wall_seconds)
            for k, length in enumerate(stretches(horizon, count))]
    if len(jobs) == 1:
        return _run(jobs[0])
    with ProcessPoolExecutor(max_workers=min(count, len(jobs))) as pool:
        return combine(list(pool.map(_run, jobs)))
