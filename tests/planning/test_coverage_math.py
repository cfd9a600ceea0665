"""Coverage arithmetic on hand-checkable scenarios (broker/routing/coverage.py)."""

from __future__ import annotations

import pytest

from broker.routing.compiled import compile_scenario
from broker.routing.coverage import LanguageCoverage, language_coverage, scenario_coverage
from broker.routing.scenario import HOURS_PER_WEEK, parse_scenario

MONDAY_9 = 9
MONDAY_20 = 20


def _one_language(pools: list[dict[str, object]]) -> list[LanguageCoverage]:
    scenario = parse_scenario({
        "languages": [{"code": "ti"}],
        "demand": {"on_demand_per_month": 10, "booked_per_month": 0},
        "pools": pools,
    })
    return scenario_coverage(scenario, compile_scenario(scenario))


def test_one_interpreter_coverage_equals_presence_share() -> None:
    """One Tigrinya interpreter who works Mon–Fri 8–16 on half the days: coverage 0.5 at Mon 9, 0 at 20."""
    (ti,) = _one_language([{"languages": ["ti"], "attendance": 0.5,
                            "windows": [{"days": [0, 1, 2, 3, 4], "start_hour": 8, "end_hour": 16}]}])
    assert ti.coverage[MONDAY_9] == pytest.approx(0.5)
    assert ti.coverage[MONDAY_20] == 0.0
    # Nobody at 20:00: everything goes unfilled; at 9 at least half does.
    assert ti.unfilled[MONDAY_20] == 1.0
    assert ti.unfilled[MONDAY_9] >= 0.5
    # Uniform demand: the demand-weighted coverage is 40 covered hours × 0.5 / 168.
    assert ti.mean_coverage == pytest.approx(40 * 0.5 / HOURS_PER_WEEK, abs=1e-4)


def test_two_independent_interpreters_cover_three_quarters() -> None:
    """Two people, each there half the time independently: P(at least one) = 1 − 0.5² = 0.75."""
    window = {"days": [0], "start_hour": 8, "end_hour": 16}
    (ti,) = _one_language([{"languages": ["ti"], "count": 2, "attendance": 0.5, "windows": [window]}])
    assert ti.coverage[MONDAY_9] == pytest.approx(0.75)
    assert ti.speakers_online[MONDAY_9] == pytest.approx(1.0)


def test_tiers_follow_the_reach_within_each_promise() -> None:
    """Coverage 0.5 in every hour, negligible load: within 2 min half are reached, within 2 h
    1 − 0.5³ = 0.875 (three hours begin), within a day nearly all → tier "1d" at 90 %, "2h" at 85 %."""
    args = {"code": "ti", "coverage": [0.5] * HOURS_PER_WEEK, "speakers_online": [0.5] * HOURS_PER_WEEK,
            "arrivals": [0.001] * HOURS_PER_WEEK, "aht_seconds": 900.0, "max_wait_seconds": 180.0}
    strict = language_coverage(**args, tier_target=0.9)  # type: ignore[arg-type]
    assert strict.reach["2min"] == pytest.approx(0.5, abs=1e-3)
    assert strict.reach["2h"] == pytest.approx(0.875, abs=1e-3)
    assert strict.tier == "1d"
    assert language_coverage(**args, tier_target=0.85).tier == "2h"  # type: ignore[arg-type]
    always = language_coverage(**{**args, "coverage": [1.0] * HOURS_PER_WEEK,  # type: ignore[arg-type]
                                  "speakers_online": [1.0] * HOURS_PER_WEEK}, tier_target=0.9)
    assert always.tier == "2min"
    never = language_coverage(**{**args, "coverage": [0.0] * HOURS_PER_WEEK}, tier_target=0.9)  # type: ignore[arg-type]
    assert (never.tier, never.mean_unfilled) == ("none", 1.0)


def test_busy_speakers_add_to_unfilled() -> None:
    """Always covered by one speaker but loaded at 0.9 Erlang: some requests wait past 3 minutes."""
    loaded = language_coverage(code="ar", coverage=[1.0] * HOURS_PER_WEEK, speakers_online=[1.0] * HOURS_PER_WEEK,
                               arrivals=[3.6] * HOURS_PER_WEEK, aht_seconds=900.0, max_wait_seconds=180.0,
                               tier_target=0.9)
    # M/M/1 with ρ = 0.9: P(wait > 180 s) = 0.9 · exp(−0.1 · 180 / 900) ≈ 0.882
    assert loaded.mean_unfilled == pytest.approx(0.9 * 2.718281828 ** (-0.02), abs=1e-3)
