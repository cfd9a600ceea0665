"""Planning on the fixed ledger, week of 6–12 January 2025 (hand computation in the docstrings).

Arabic that week: on-demand arrivals Mon 09 ×2, Tue 10 ×1, Wed 00 ×1 (local); mean talk of the
answered calls (600 + 1200 + 301) / 3 = 700.33 s, plus 30 s wrap-up → AHT 730.33 s.
Mon 09: λ = 2/h, A = 0.4057 E; one interpreter answers 61 % within 60 s, two 94 % → need 2.
Tue 10 and Wed 00: λ = 1/h, A = 0.2029 E, one interpreter answers 81 % → need 1.
The interpreter's window covers Monday 08–12, so have = 1 on Monday 09 and 0 elsewhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus
from broker.interpreter.models import PresenceInterval
from broker.report import erlang, planning
from broker.report.schemas import PlanningParams, ReportFilters
from tests.report.conftest import Ledger

WEEK = ReportFilters.model_validate({"from": date(2025, 1, 6), "to": date(2025, 1, 12)})
AHT = (600 + 1200 + 301) / 3 + 30


async def test_need_have_and_gap_table(db: AsyncSession, ledger: Ledger) -> None:
    """Arabic needs 2 on Monday 9–10 (has 1) and 1 on Tuesday 10–11 and Wednesday 0–1 (has 0)."""
    report = await planning.planning_report(db=db, filters=WEEK, params=PlanningParams())
    assert report.weeks == 1.0
    assert report.presence_source == "windows"
    slots = {(s.language, s.weekday, s.hour): s for s in report.slots}
    assert set(slots) == {("ar", 0, 9), ("ar", 1, 10), ("ar", 2, 0)}
    monday = slots[("ar", 0, 9)]
    assert monday.arrivals_per_hour == 2.0
    assert monday.aht_seconds == pytest.approx(AHT, abs=0.05)
    assert (monday.need, monday.have_windows, monday.have, monday.gap) == (2, 1, 1.0, 1.0)
    assert monday.service_level_at_have == pytest.approx(0.614, abs=0.001)
    assert (slots[("ar", 1, 10)].need, slots[("ar", 1, 10)].have) == (1, 0.0)
    assert [g.text for g in report.gaps] == [
        "Arabisch, Mo 9–10: need 2, have 1",
        "Arabisch, Di 10–11: need 1, have 0",
        "Arabisch, Mi 0–1: need 1, have 0",
    ]
    (arabic,) = report.languages
    assert (arabic.language, arabic.requests, arabic.unmet, arabic.peak_need, arabic.hours_short) == ("ar", 4, 1, 2, 3)
    assert arabic.arrivals_per_week == 4.0
    assert arabic.interpreters_registered == 1


async def test_service_level_target_is_settable(db: AsyncSession, ledger: Ledger) -> None:
    """A stricter target (95 % in 20 s) raises Monday's need to what Erlang C says for it."""
    params = PlanningParams(target_service_level=0.95, answer_seconds=20)
    report = await planning.planning_report(db=db, filters=WEEK, params=params)
    monday = next(s for s in report.slots if (s.weekday, s.hour) == (0, 9))
    expected = erlang.required_servers(
        arrivals_per_hour=2, aht_seconds=AHT, target_service_level=0.95, answer_seconds=20
    ).servers
    assert monday.need == expected == 3


async def test_presence_history_is_preferred(db: AsyncSession, ledger: Ledger) -> None:
    """With presence history, have is the mean number online: 30 minutes on Monday 09–10 → 0.5."""
    db.add(
        PresenceInterval(
            interpreter_id=ledger.interpreter_id,
            status=InterpreterStatus.AVAILABLE,
            started_at=datetime(2025, 1, 6, 8, 0, tzinfo=UTC),
            ended_at=datetime(2025, 1, 6, 8, 30, tzinfo=UTC),
        )
    )
    await db.commit()
    report = await planning.planning_report(db=db, filters=WEEK, params=PlanningParams())
    assert report.presence_source == "presence"
    monday = next(s for s in report.slots if (s.weekday, s.hour) == (0, 9))
    assert (monday.have_online, monday.have_windows, monday.have, monday.gap) == (0.5, 1, 0.5, 1.5)


async def test_empty_period_plans_nothing(db: AsyncSession, ledger: Ledger) -> None:
    """A week without demand gives no slots, no gaps and no languages."""
    filters = ReportFilters.model_validate({"from": date(2024, 3, 4), "to": date(2024, 3, 10)})
    report = await planning.planning_report(db=db, filters=filters, params=PlanningParams())
    assert (report.slots, report.gaps, report.languages) == ([], [], [])


def test_occurrences_count_local_hours() -> None:
    """One full week holds each hour of the week once, even across the spring DST change."""
    start = datetime(2025, 3, 24, tzinfo=UTC)
    counts = planning.occurrences(start, datetime(2025, 4, 7, tzinfo=UTC))
    assert sum(counts) == 14 * 24
    assert min(counts) >= 1 and max(counts) <= 3
