"""The simulator: reproducible from a seed, bounded, and refusing absurd scenarios by field name."""

from __future__ import annotations

from typing import Any

import pytest

from broker.routing import (
    THURINGIA,
    RoutingPolicy,
    ScenarioError,
    SimulationLimitError,
    load_scenario,
    parse_scenario,
    simulate,
)


def small(**changes: Any) -> dict[str, Any]:
    """A two-language scenario as a dictionary (what a TOML file parses to)."""
    data: dict[str, Any] = {
        "name": "small", "days": 3,
        "demand": {"on_demand_per_month": 600, "booked_per_month": 60},
        "languages": [{"code": "ar", "weight": 3}, {"code": "ti", "weight": 1}],
        "shifts": {"day": [{"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 6, "end_hour": 22}]},
        "pools": [{"languages": ["ar"], "count": 3, "shifts": ["day"]},
                  {"languages": ["ar", "ti"], "count": 1, "shifts": ["day"]}],
    }
    data.update(changes)
    return data


def test_same_seed_gives_the_same_run_and_another_seed_a_different_one() -> None:
    scenario = parse_scenario(small())
    first = simulate(scenario, policy="scarcity", seed=7)
    again = simulate(scenario, policy="scarcity", seed=7)
    other = simulate(scenario, policy="scarcity", seed=8)
    assert list(first.waits) == list(again.waits) and first.events == again.events
    assert list(first.waits) != list(other.waits)
    assert first.total().requests > 50


def test_both_policies_see_the_same_callers_for_one_seed() -> None:
    """Common random numbers: arrivals come from their own stream, so policies are compared fairly."""
    scenario = parse_scenario(small())
    a = simulate(scenario, policy=RoutingPolicy.LONGEST_IDLE, seed=3)
    b = simulate(scenario, policy=RoutingPolicy.SCARCITY, seed=3)
    assert [a.language(c).requests for c in a.languages] == [b.language(c).requests for c in b.languages]


def test_every_request_ends_answered_unfilled_or_abandoned() -> None:
    result = simulate(parse_scenario(small(service={"patience_seconds": 60})), seed=2)
    total = result.total()
    assert total.requests == total.answered + total.unfilled + total.abandoned
    assert total.abandoned > 0
    assert len(result.waits) == total.requests
    assert max(result.waits) <= result.max_wait_seconds + 1e-6


@pytest.mark.parametrize(("change", "field"), [
    ({"demand": {"on_demand_per_month": -5}}, "demand.on_demand_per_month"),
    ({"pools": []}, "pools"),
    ({"pools": [{"languages": ["ar"], "count": 0, "shifts": ["day"]}]}, "pools[0].count"),
    ({"languages": [{"code": "ar"}, {"code": "ti"}],
      "pools": [{"languages": ["ar"], "count": 2, "shifts": ["day"]}]}, "languages[ti]"),
    ({"pools": [{"languages": ["xx"], "count": 2, "shifts": ["day"]}]}, "pools[0].languages"),
    ({"pools": [{"languages": ["ar", "ti"], "count": 2, "shifts": ["nights"]}]}, "pools[0].shifts"),
    ({"languages": [{"code": "ar", "talk_minutes": 0}, {"code": "ti"}]}, "languages[ar].talk_minutes"),
    ({"service": {"max_wait_seconds": -1}}, "service.max_wait_seconds"),
    ({"shifts": {"day": [{"days": [9], "start_hour": 6, "end_hour": 22}]}}, "shifts.day[0]"),
    ({"days": 0}, "days"),
    ({"unknown": 1}, "unknown"),
])
def test_absurd_scenarios_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(small(**change))
    assert caught.value.field == field


def test_unknown_policy_is_refused_naming_the_field() -> None:
    with pytest.raises(ScenarioError) as caught:
        simulate(parse_scenario(small()), policy="random")
    assert caught.value.field == "policy"


def test_the_event_bound_stops_a_run_that_would_go_on() -> None:
    with pytest.raises(SimulationLimitError, match="simulated events"):
        simulate(parse_scenario(small(days=30)), seed=1, max_events=500)


def test_the_shipped_thuringian_scenario_matches_its_brief() -> None:
    """54 languages, 80-150 interpreters, ~3,000 on-demand and ~1,000 booked a month, 13 languages at night."""
    scenario = load_scenario(THURINGIA)
    assert len(scenario.languages) == 54
    assert 80 <= sum(p.count for p in scenario.pools) <= 150
    assert all(1 <= len(p.languages) <= 3 for p in scenario.pools)
    night = {code for p in scenario.pools if "night" in p.shifts for code in p.languages}
    assert len(night) == 13
    result = simulate(scenario, seed=1)
    assert 2_600 <= result.total().requests <= 3_400
    assert 700 <= result.booked + result.booked_missed <= 1_300


def test_a_window_with_its_own_attendance_is_worked_in_that_share_of_its_days() -> None:
    """A window's own attendance overrides the pool's: a morning never worked (0), an afternoon always
    (1), and an evening at 0.5 worked on about half of 400 days."""
    person = {"languages": ["ar"], "count": 1, "attendance": 1.0, "windows": [
        {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 8, "end_hour": 12, "attendance": 0.0},
        {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 13, "end_hour": 15},
        {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 18, "end_hour": 20, "attendance": 0.5},
    ]}
    scenario = parse_scenario(small(days=400, demand={"on_demand_per_month": 1, "booked_per_month": 0},
                                    languages=[{"code": "ar"}], shifts={}, pools=[person]))
    [load] = simulate(scenario, policy="scarcity", seed=3).interpreters
    hours_a_day = load.online_seconds / 3600 / 400
    assert hours_a_day == pytest.approx(2 + 2 * 0.5, abs=0.15)  # afternoon always, evening half the days
