"""Long runs on every core: whole-week stretches, reproducible, summing to the sequential stretches."""

from __future__ import annotations

import pytest

from broker.routing import ScenarioError, combine, parse_scenario, simulate
from broker.routing.parallel import simulate_parallel, stretch_seed, stretches
from tests.routing.test_simulator import small


@pytest.mark.parametrize(("days", "parts", "expected"), [
    (365, 2, [189, 176]),  # 53 weeks begun: 27 whole weeks, then the rest
    (28, 2, [14, 14]),
    (10, 4, [7, 3]),  # never more stretches than weeks
    (3, 2, [3]),
    (14, 1, [14]),
])
def test_a_horizon_is_cut_into_whole_weeks_with_only_the_last_stretch_shorter(
        days: float, parts: int, expected: list[float]) -> None:
    lengths = stretches(days, parts)
    assert sum(lengths) == pytest.approx(days)
    assert all(length % 7 == 0 for length in lengths[:-1])
    assert lengths == expected


def test_a_parallel_run_equals_its_stretches_run_one_after_another() -> None:
    scenario = parse_scenario(small(days=14))
    parallel = simulate_parallel(scenario, policy="scarcity", seed=3, days=14, workers=2)
    sequential = combine([simulate(scenario, policy="scarcity", seed=stretch_seed(3, k), days=7) for k in range(2)])
    assert parallel.total().requests == sequential.total().requests > 0
    assert sorted(parallel.waits) == sorted(sequential.waits)
    assert parallel.cells == sequential.cells
    assert parallel.days == 14


def test_absurd_horizons_and_worker_counts_are_refused_naming_the_field() -> None:
    scenario = parse_scenario(small())
    with pytest.raises(ScenarioError) as days:
        simulate_parallel(scenario, days=0)
    assert days.value.field == "days"
    with pytest.raises(ScenarioError) as workers:
        stretches(7, 0)
    assert workers.value.field == "workers"
