"""Head-count plan, what-if and training advice over the API, fitted from the fixed ledger (January 2025)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.report.conftest import Ledger

PERIOD = {"from": "2025-01-06", "to": "2025-01-12", "weeks": "1"}


async def test_plan_api_and_its_export_show_the_same_hours(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The plan covers all 168 hours, stands beside the Erlang C sum, and the CSV export repeats its head counts."""
    headers = ledger.world.auth("manager")
    response = await client.get("/api/reports/plan", params={**PERIOD, "max_seconds": "20"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["hours"]) == 168
    assert body["plan_hours"] == sum(h["people"] for h in body["hours"]) > 0
    assert body["erlang_hours"] > 0
    assert body["plan_vs_erlang_ratio"] == pytest.approx(body["plan_hours"] / body["erlang_hours"], abs=1e-4)
    exported = await client.get("/api/reports/plan/export", params={**PERIOD, "max_seconds": "20"}, headers=headers)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["people"]) for r in rows] == [h["people"] for h in body["hours"]]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/reports/plan", {"service_level": "1.5"}, "service_level"),
        ("/api/reports/plan", {"weeks": "0"}, "weeks"),
        ("/api/reports/plan", {"max_seconds": "100000"}, "max_seconds"),
        ("/api/reports/plan", {"coverage": "0.2"}, "coverage"),
        ("/api/reports/what-if", {"add_language": "ar", "start_hour": "16", "end_hour": "8"}, "end_hour"),
        ("/api/reports/what-if", {"add_language": "xx"}, "language"),
        ("/api/reports/what-if", {"add_language": "ar", "day": "9"}, "days"),
        ("/api/reports/training", {"sim_weeks": "500"}, "sim_weeks"),
    ],
)
async def test_bad_planning_input_is_422_naming_the_field(
    client: httpx.AsyncClient, ledger: Ledger, path: str, params: dict[str, Any], field: str
) -> None:
    """Targets, weeks, time bounds and what-if shifts outside their ranges are 422s that name the field."""
    response = await client.get(path, params={**PERIOD, **params}, headers=ledger.world.auth("manager"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


async def test_what_if_adds_a_person_and_reports_per_language(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """Adding a second Arabic speaker for the week can only lower Arabic's unfilled requests (same seeds)."""
    params = {**PERIOD, "add_language": "ar", "day": ["0", "1", "2", "3", "4", "5", "6"], "start_hour": "0",
              "end_hour": "24", "sim_weeks": "4"}
    response = await client.get("/api/reports/what-if", params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["added"][0]["languages"] == ["ar"]
    arabic = [row for row in body["languages"] if row["language"] == "ar"]
    assert arabic and arabic[0]["change_per_week"] < 0
    refused = await client.get("/api/reports/what-if", params=params, headers=ledger.world.auth("interpreter"))
    assert refused.status_code == 403


async def test_a_language_nobody_speaks_asks_for_a_new_person(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The year's ledger has Ukrainian requests but no Ukrainian interpreter: the fitted scenario keeps
    that demand (unfilled) and the plan asks for "a new person speaking uk" instead of failing."""
    params = {"from": "2025-01-01", "to": "2025-12-31", "weeks": "53", "max_seconds": "20"}
    response = await client.get("/api/reports/plan", params=params, headers=ledger.world.auth("manager"))
    assert response.status_code == 200, response.text
    assert response.json()["new_people"].get("uk", 0) >= 1
