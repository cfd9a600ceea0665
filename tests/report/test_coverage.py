"""Coverage from presence history on the fixed ledger (week of 6–12 January 2025) and its API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus
from broker.interpreter.models import PresenceInterval
from broker.report import coverage
from broker.report.plan_schemas import CoverageParams
from broker.report.schemas import ReportFilters
from tests.report.conftest import Ledger

WEEK = ReportFilters.model_validate({"from": date(2025, 1, 6), "to": date(2025, 1, 12)})
MONDAY_9 = 9


def _online(ledger: Ledger, start: datetime, end: datetime) -> PresenceInterval:
    return PresenceInterval(interpreter_id=ledger.interpreter_id, status=InterpreterStatus.AVAILABLE,
                            started_at=start, ended_at=end)


async def test_coverage_is_the_share_of_the_hour_with_a_speaker_online(db: AsyncSession, ledger: Ledger) -> None:
    """The only Arabic speaker is online 9:00–9:30 local on Monday (two overlapping intervals, counted once):
    coverage 0.5 then, 0 in every other hour; Arabic's three other requests find nobody."""
    db.add(_online(ledger, datetime(2025, 1, 6, 8, 0, tzinfo=UTC), datetime(2025, 1, 6, 8, 20, tzinfo=UTC)))
    db.add(_online(ledger, datetime(2025, 1, 6, 8, 10, tzinfo=UTC), datetime(2025, 1, 6, 8, 30, tzinfo=UTC)))
    await db.commit()
    report = await coverage.coverage_report(db=db, filters=WEEK, params=CoverageParams())
    assert report.source == "presence"
    arabic = next(r for r in report.languages if r.language == "ar")
    assert arabic.hours_coverage[MONDAY_9] == pytest.approx(0.5)
    assert sum(arabic.hours_coverage) == pytest.approx(0.5)
    assert arabic.hours_unfilled[MONDAY_9] >= 0.5
    # Demand: two of Arabic's four requests came on Monday 9–10 (covered half), two in uncovered hours.
    assert arabic.coverage == pytest.approx(0.25, abs=1e-3)
    assert arabic.tier == "none"


async def test_without_presence_history_the_windows_stand_in(db: AsyncSession, ledger: Ledger) -> None:
    """No presence history: the interpreter's window Monday 08–12 covers those hours fully."""
    report = await coverage.coverage_report(db=db, filters=WEEK, params=CoverageParams())
    assert report.source == "windows"
    arabic = next(r for r in report.languages if r.language == "ar")
    assert arabic.hours_coverage[8:12] == [1.0] * 4
    assert sum(arabic.hours_coverage) == 4.0


async def test_coverage_api_for_managers_and_422_naming_the_field(
    client: httpx.AsyncClient, ledger: Ledger
) -> None:
    """Managers get the report; an interpreter is refused; a tier target of 2 is 422 naming tier_target."""
    params = {"from": "2025-01-06", "to": "2025-01-12"}
    ok = await client.get("/api/reports/coverage", params=params, headers=ledger.world.auth("manager"))
    assert ok.status_code == 200, ok.text
    assert {r["language"] for r in ok.json()["languages"]} >= {"ar"}
    refused = await client.get("/api/reports/coverage", params=params, headers=ledger.world.auth("interpreter"))
    assert refused.status_code == 403
    bad = await client.get("/api/reports/coverage", params={**params, "tier_target": "2"},
                           headers=ledger.world.auth("manager"))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "tier_target"]


async def test_coverage_export_repeats_the_api_figures(client: httpx.AsyncClient, ledger: Ledger) -> None:
    """The CSV export lists each language with the same coverage, unfilled share and tier as the API."""
    params = {"from": "2025-01-06", "to": "2025-01-12"}
    headers = ledger.world.auth("manager")
    api = (await client.get("/api/reports/coverage", params=params, headers=headers)).json()
    exported = await client.get("/api/reports/coverage/export", params=params, headers=headers)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["language"], float(r["coverage"]), float(r["unfilled_share"]), r["tier"]) for r in rows] == [
        (r["language"], r["coverage"], r["unfilled_share"], r["tier"]) for r in api["languages"]]
