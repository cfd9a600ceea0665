"""`videodolmetschen report plan | what-if | usage`: the service's numbers, clear exits on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from broker.routing.plan import plan
from broker.routing.plan_models import PlanTarget
from broker.routing.scenario import load_scenario

CLI = [sys.executable, "-m", "broker.cli"]
SCENARIO = """
name = "two-rare"
languages = [{ code = "ti" }, { code = "am" }]
[demand]
on_demand_per_month = 8
booked_per_month = 0
[[pools]]
languages = ["ti", "am"]
windows = [{ days = [0, 1, 2, 3, 4, 5, 6], start_hour = 0, end_hour = 24 }]
"""


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_cli_plan_prints_the_same_plan_as_the_service(tmp_path: Path) -> None:
    """The JSON of `report plan --scenario` has the service function's head counts hour by hour."""
    path = tmp_path / "two.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    done = _cli(["report", "plan", "--scenario", str(path), "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    direct = plan(load_scenario(path), PlanTarget(max_seconds=60))
    assert printed["plan_hours"] == direct.plan_hours == 155
    assert [h["people"] for h in printed["hours"]] == [h.people for h in direct.hours]


def test_cli_what_if_refuses_a_bad_day_naming_it(tmp_path: Path) -> None:
    """Weekday 9 is no weekday: exit 2 and the message names `days`."""
    path = tmp_path / "two.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    done = _cli(["report", "what-if", "--add", "ti", "--days", "0-9", "--scenario", str(path)], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("days:")


def test_cli_report_refuses_a_bad_period_in_one_plain_line_per_problem(tmp_path: Path) -> None:
    """A start after the end and a year out of range: exit 2, each problem on its own line, named by its
    option where it has one, and never pydantic's dump of the whole input."""
    done = _cli(["report", "usage", "--from", "2026-11-29", "--to", "2026-08-30"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "Bad filter: 'from' (2026-11-29) must not be after 'to' (2026-08-30)"
    done = _cli(["report", "usage", "--from", "1900-01-01"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "Bad filter: --from: date between 2000-01-01 and 2099-12-31"
    assert "validation error" not in done.stderr and "input_value" not in done.stderr
