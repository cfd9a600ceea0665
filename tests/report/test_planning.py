"""Planning on the fixed ledger, week of 6–12 January 2025 (hand computation in the docstrings).

Arabic that week: on-demand arrivals Mon 09 ×2, Tue 10 ×1, Wed 00 ×1 (local); mean talk of the
answered calls (600 + 1200 + 301) / 3 = 700.33 s, plus 30 s wrap-up → AHT 730.33 s.
Mon 09: λ = 2/h, A = 0.4057 E; one interpreter answers 61 % within 60 s, two 94 % → need 2.
Tue 10 and Wed 00: λ = 1/h, A = 0.2029 E, one interpreter answers 81 % → need 1.
The interpreter's window covers Monday 08–12, so have = 1 on Monday 09 and 0 elsewhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import InterpreterStatus, LedgerOutcome, Media, OfficeKind, RequestMode
from broker.interpreter.models import PresenceInterval
from broker.ledger.models import LedgerEntry
from broker.report import erlang, erlang_a, planning, timekeys
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


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timekeys.LOCAL_TZ)


def _ledger_row(ledger: Ledger, language: str, mode: RequestMode, at: datetime, talk: int) -> LedgerEntry:
    world = ledger.world
    at = at.astimezone(UTC)
    connected = at if talk else None
    return LedgerEntry(
        office_id=world.office_a.id, office_kind=OfficeKind(world.office_a.kind),
        district_ags=world.office_a.district_ags, language_code=language, purpose="other", mode=mode,
        media=Media.VIDEO, requested_at=at, connected_at=connected,
        ended_at=connected + timedelta(seconds=talk) if connected else None, wait_seconds=0 if talk else None,
        talk_seconds=talk, outcome=LedgerOutcome.COMPLETED if talk else LedgerOutcome.UNFILLED,
    )


async def test_a_person_speaking_two_languages_is_counted_once(db: AsyncSession, ledger: Ledger) -> None:
    """One interpreter (Arabic and Persian) online Monday 9–10 while both languages have demand:
    the languages' "have" add up to one person, shared by load, and the hour shows one person."""
    db.add(_ledger_row(ledger, "fa", RequestMode.ON_DEMAND, _local(2025, 1, 6, 9, 20), 600))
    db.add(PresenceInterval(interpreter_id=ledger.interpreter_id, status=InterpreterStatus.AVAILABLE,
                            started_at=datetime(2025, 1, 6, 8, 0, tzinfo=UTC),
                            ended_at=datetime(2025, 1, 6, 9, 0, tzinfo=UTC)))
    await db.commit()
    report = await planning.planning_report(db=db, filters=WEEK, params=PlanningParams())
    monday = {s.language: s for s in report.slots if (s.weekday, s.hour) == (0, 9)}
    assert set(monday) == {"ar", "fa"}
    assert monday["ar"].have + monday["fa"].have == pytest.approx(1.0, abs=0.011)
    # Arabic brings two calls of 700 s, Persian one of 600 s: Arabic gets the larger share.
    assert monday["ar"].have > monday["fa"].have > 0
    hour = next(h for h in report.hours if (h.weekday, h.hour) == (0, 9))
    assert hour.people_online == 1.0
    assert hour.need_sum == monday["ar"].need + monday["fa"].need


async def test_booked_load_is_kept_and_spread_over_the_hours_it_ran(db: AsyncSession, ledger: Ledger) -> None:
    """A 45-minute booking at 9:30 adds 0.5 Erlang to 9–10 and 0.25 to 10–11, unrounded."""
    db.add(_ledger_row(ledger, "uk", RequestMode.BOOKED, _local(2025, 3, 3, 9, 30), 45 * 60))
    await db.commit()
    week = ReportFilters.model_validate({"from": date(2025, 3, 3), "to": date(2025, 3, 9)})
    report = await planning.planning_report(db=db, filters=week, params=PlanningParams())
    slots = {(s.weekday, s.hour): s for s in report.slots}
    assert set(slots) == {(0, 9), (0, 10)}
    assert (slots[(0, 9)].booked_erlangs, slots[(0, 9)].need) == (0.5, 0.5)
    assert (slots[(0, 10)].booked_erlangs, slots[(0, 10)].need) == (0.25, 0.25)
    assert sum(h.need_sum for h in report.hours) == 0.75


def test_occurrences_follow_daylight_saving_time() -> None:
    """Three local weeks around the spring change: every hour thrice, Sunday 02:00 twice (it never
    happened on 30 March); around the autumn change Sunday 02:00 happens four times."""
    spring = planning.occurrences(_local(2025, 3, 17).astimezone(UTC), _local(2025, 4, 7).astimezone(UTC))
    sunday_2 = 6 * 24 + 2
    assert spring[sunday_2] == 2
    assert all(count == 3 for slot, count in enumerate(spring) if slot != sunday_2)
    autumn = planning.occurrences(_local(2025, 10, 13).astimezone(UTC), _local(2025, 11, 3).astimezone(UTC))
    assert autumn[sunday_2] == 4
    assert all(count == 3 for slot, count in enumerate(autumn) if slot != sunday_2)


async def test_today_counts_only_the_hours_that_have_passed(db: AsyncSession, ledger: Ledger) -> None:
    """At 08:30 on Monday 13 January the period 6–13 January holds Monday 09:00 once, not twice:
    the two Arabic calls of Monday 6 January at 9 are 2 per hour, and Monday 08:00 counts 1.5."""
    period = ReportFilters.model_validate({"from": date(2025, 1, 6), "to": date(2025, 1, 13)})
    now = _local(2025, 1, 13, 8, 30).astimezone(UTC)
    report = await planning.planning_report(db=db, filters=period, params=PlanningParams(), now=now)
    monday = next(s for s in report.slots if (s.language, s.weekday, s.hour) == ("ar", 0, 9))
    assert monday.arrivals_per_hour == 2.0
    start, end = planning.observed_bounds(period, now)
    counts = planning.occurrences(start, end)
    assert (counts[8], counts[9], counts[10]) == (1.5, 1.0, 1.0)


async def test_erlang_a_stands_beside_erlang_c_with_its_assumption(db: AsyncSession, ledger: Ledger) -> None:
    """Arabic's busiest hour (Mon 09, λ = 2/h, AHT 730 s): Erlang C needs 2 for 80 % in 60 s; with callers
    who give up after 60 s on average Erlang A computes its own figure, and both assumptions are stated."""
    report = await planning.planning_report(db=db, filters=WEEK, params=PlanningParams(patience_seconds=60))
    (arabic,) = report.languages
    assert (arabic.peak_arrivals_per_hour, arabic.peak_erlang_c) == (2.0, 2)
    expected_a = next(
        n for n in range(1, 10)
        if erlang_a.service_level(servers=n, arrivals_per_hour=2, aht_seconds=arabic.aht_seconds,
                                  patience_seconds=60, answer_seconds=60) >= 0.8
    )
    assert arabic.peak_erlang_a == expected_a
    assert "M/M/n+M" in report.assumptions["erlang_a"] and "M/M/n)" in report.assumptions["erlang_c"]
