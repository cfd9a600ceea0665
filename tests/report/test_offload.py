"""Simulation for planning runs in a separate process: the app's process keeps its GIL for calls."""

from __future__ import annotations

import os

import pytest

from broker.config import Settings
from broker.report.offload import compute
from broker.routing.scenario import ScenarioError, parse_scenario


def _refuse(field: str) -> None:
    raise ScenarioError(field, "must be positive")


def test_compute_runs_the_function_in_another_process(settings: Settings) -> None:
    assert compute(settings, os.getpid) != os.getpid()


def test_a_scenario_error_comes_back_naming_its_field(settings: Settings) -> None:
    """The planning API turns ScenarioError into a 422 naming the field: it must survive the trip."""
    with pytest.raises(ScenarioError) as raised:
        compute(settings, _refuse, "days")
    assert (raised.value.field, raised.value.message) == ("days", "must be positive")


def test_a_scenario_crosses_and_its_result_comes_back(settings: Settings) -> None:
    scenario = parse_scenario({
        "name": "tiny", "days": 1, "demand": {"on_demand_per_month": 300, "booked_per_month": 0},
        "languages": [{"code": "ar", "weight": 1}],
        "shifts": {"day": [{"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 8, "end_hour": 16}]},
        "pools": [{"languages": ["ar"], "count": 2, "shifts": ["day"]}],
    })
    assert compute(settings, len, scenario.languages) == 1
