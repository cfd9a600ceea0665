"""Reports and simulation run in a separate process: the app's process keeps its GIL for calls."""

from __future__ import annotations

import os
import pickle

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.report.headcount import PlanInputError
from broker.report.offload import compute, run_report
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


async def _pid_and_one(*, db: AsyncSession) -> tuple[int, int]:
    return os.getpid(), int((await db.execute(text("SELECT 1"))).scalar_one())


async def test_a_report_runs_in_another_process_with_its_own_read_only_session(settings: Settings) -> None:
    """The dashboard and planning reports compute outside the app's process, so they never take its GIL."""
    pid, one = await run_report(settings, _pid_and_one)
    assert (pid != os.getpid(), one) == (True, 1)


async def test_simulation_inside_a_report_process_runs_there_without_a_second_hop(settings: Settings) -> None:
    pid, inner = await run_report(settings, _compute_pid, settings=settings)
    assert pid == inner != os.getpid()


async def _compute_pid(*, db: AsyncSession, settings: Settings) -> tuple[int, int]:
    return os.getpid(), compute(settings, os.getpid)


def test_every_domain_error_crosses_by_pickle_with_its_fields() -> None:
    """A report process raises PlanInputError (built from a ScenarioError): the app must get its 422 back."""
    error = PlanInputError(ScenarioError("language", "no demand for xx"))
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.message, again.code, again.extra, str(again)) == (
        PlanInputError, error.message, "invalid_plan_input", error.extra, str(error))
