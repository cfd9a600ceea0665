"""The scenario fitted from presence history keeps each hour's expected time online.

A person online Monday 9–12 in two of every five weeks is online there 40 % of the time, in a
four-week history as in a forty-week one. The fit once kept only hours worked in at least half
of the weeks, so this person vanished from the plan, and the longer the history the fewer hours
chance pushed over that line: the plan grew with the window, not with demand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.enums import InterpreterStatus
from broker.interpreter.models import PresenceInterval
from broker.routing.compiled import compile_scenario
from broker.routing.coverage import presence_probabilities
from broker.routing.fit import fit_scenario
from tests.report.conftest import Ledger

FIRST_MONDAY = datetime(2025, 1, 6, tzinfo=UTC)  # the fixed ledger's week
BERLIN = ZoneInfo("Europe/Berlin")


async def _online_mondays(db: AsyncSession, ledger: Ledger, weeks: int, worked: set[int]) -> None:
    for week in range(weeks):
        if week % 5 in worked:
            day = (FIRST_MONDAY + timedelta(weeks=week)).date()
            begin = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN).astimezone(UTC)  # 9:00 summer and winter
            db.add(PresenceInterval(interpreter_id=ledger.interpreter_id, status=InterpreterStatus.AVAILABLE,
                                    started_at=begin, ended_at=begin + timedelta(hours=3)))
    await db.commit()


async def _monday_chances(db: AsyncSession, settings: Settings, weeks: int) -> list[float]:
    scenario = await fit_scenario(db=db, weeks=weeks, settings=settings,
                                  now=FIRST_MONDAY + timedelta(weeks=weeks))
    compiled = compile_scenario(scenario)
    speakers = [i for i, person in enumerate(compiled.interpreters) if "ar" in person.codes]
    chances = presence_probabilities(compiled)
    return [sum(chances[i][hour] for i in speakers) for hour in range(24)]


@pytest.mark.parametrize("weeks", [5, 40])
async def test_a_person_online_in_two_of_five_weeks_is_fitted_online_forty_percent_of_those_hours(
    db: AsyncSession, ledger: Ledger, settings: Settings, weeks: int,
) -> None:
    await _online_mondays(db, ledger, weeks, worked={0, 2})
    monday = await _monday_chances(db, settings, weeks)
    assert monday[9:12] == pytest.approx([0.4] * 3)
    assert sum(monday) == pytest.approx(1.2), "no other hour of Monday gains or loses time online"


async def test_a_shift_worked_in_some_weeks_stays_one_window_drawn_as_a_whole(
    db: AsyncSession, ledger: Ledger, settings: Settings,
) -> None:
    """The simulator draws a window per week: one three-hour window at 0.4, not three hours drawn apart."""
    await _online_mondays(db, ledger, 10, worked={1, 3})
    scenario = await fit_scenario(db=db, weeks=10, settings=settings, now=FIRST_MONDAY + timedelta(weeks=10))
    pool = next(p for p in scenario.pools if "ar" in p.languages and p.attendance != 0)
    assert [(w.days, w.start_hour, w.end_hour, w.attendance) for w in pool.windows] == [([0], 9, 12, 0.4)]
