"""Every usage figure against hand-computed values on the fixed ledger (tests/report/conftest.py).

Hand computation (R1…R10 in conftest): requests 10; demand 9 (R7 is a booked cancellation);
sessions 5 (R1 R2 R3 R6 R10); talk 600+1200+301+1800+900 = 4801 s = 80.0 min; waits (on demand,
answered: 10 20 40 60, and R4, unfilled, censored at the 180 s it reached) → median 40.0,
p90 = 60 + 0.6·120 = 132.0; unmet 3 (R4
unfilled, R5 abandoned, R8 no interpreter); ratings 5 3 4 4 → 4.0; one problem in 5 sessions.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import Media, OfficeKind, RequestMode
from broker.report import figures, rankings, service
from broker.report.schemas import Grouping, ReportFilters, UsageRow
from tests.report.conftest import Ledger


def by_key(report, grouping: str) -> dict:  # type: ignore[no-untyped-def]
    return {row.key[grouping]: row for row in report.rows}


async def test_totals_match_hand_computation(db: AsyncSession, ledger: Ledger) -> None:
    """The ungrouped report gives the hand-computed figures for the whole ledger."""
    report = await service.usage_report(db=db, filters=ReportFilters(), group_by=[])
    assert len(report.rows) == 1
    t = report.total
    assert (t.requests, t.demand, t.sessions, t.talk_minutes) == (10, 9, 5, 80.0)
    assert (t.requests_on_demand, t.requests_booked, t.sessions_on_demand, t.sessions_booked) == (7, 3, 4, 1)
    # Without R4's censored wait the figures would read 30.0 / 54.0: the unfilled are not left out.
    assert (t.waits_measured, t.waits_censored, t.wait_median_s, t.wait_p90_s) == (4, 1, 40.0, 132.0)
    assert (t.fill_rate, t.unmet, t.unmet_share) == (0.5556, 3, 0.3333)
    assert (t.no_shows, t.late_cancellations) == (1, 1)
    assert (t.ratings, t.mean_rating, t.with_problems, t.problem_share) == (4, 4.0, 1, 0.2)
    assert report.rows[0].model_dump(exclude={"key", "label"}) == t.model_dump()


async def test_grouped_by_language(db: AsyncSession, ledger: Ledger) -> None:
    """Per language: Arabic waits 20 40 60 and 180 censored (median 50, p90 144), Ukrainian excludes its booked
    cancellation."""
    report = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.LANGUAGE])
    rows = by_key(report, "language")
    assert list(rows) == ["ar", "fa", "gsg", "uk"]
    ar, uk, gsg, fa = rows["ar"], rows["uk"], rows["gsg"], rows["fa"]
    assert (ar.requests, ar.demand, ar.sessions, ar.talk_minutes) == (4, 4, 3, 35.0)
    assert (ar.wait_median_s, ar.wait_p90_s, ar.fill_rate, ar.unmet, ar.unmet_share) == (50.0, 144.0, 0.75, 1, 0.25)
    assert (ar.mean_rating, ar.problem_share) == (4.0, 0.3333)
    assert ar.label["language"] == "Arabisch"
    assert (uk.requests, uk.demand, uk.sessions, uk.fill_rate, uk.unmet_share) == (3, 2, 1, 0.5, 0.5)
    assert (uk.wait_median_s, uk.late_cancellations, uk.sessions_booked) == (None, 1, 1)
    assert (gsg.requests, gsg.sessions, gsg.fill_rate, gsg.unmet, gsg.unmet_share) == (1, 0, 0.0, 1, 1.0)
    assert (fa.no_shows, fa.wait_median_s, fa.wait_p90_s, fa.talk_minutes) == (1, 10.0, 10.0, 15.0)
    assert report.total.requests == 10


async def test_grouped_by_local_month(db: AsyncSession, ledger: Ledger) -> None:
    """Months are local: 31 Jan 23:30 UTC counts for February, the July row in summer time for July."""
    report = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.MONTH])
    rows = by_key(report, "month")
    assert {k: r.requests for k, r in rows.items()} == {"2025-01": 4, "2025-02": 5, "2025-07": 1}
    feb = rows["2025-02"]
    assert (feb.demand, feb.sessions, feb.unmet, feb.no_shows, feb.late_cancellations) == (4, 1, 2, 1, 1)


async def test_grouped_by_week(db: AsyncSession, ledger: Ledger) -> None:
    """Weeks are keyed by their local Monday and labelled as ISO weeks."""
    report = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.WEEK])
    rows = by_key(report, "week")
    assert {k: r.requests for k, r in rows.items()} == {
        "2025-01-06": 4,
        "2025-01-27": 1,
        "2025-02-03": 4,
        "2025-06-30": 1,
    }
    assert rows["2025-01-27"].label["week"] == "2025-W05"


async def test_grouped_by_weekday_hour(db: AsyncSession, ledger: Ledger) -> None:
    """Hour of the week (0 = Monday 00:00 local) puts each row where a clock in Erfurt shows it."""
    report = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.WEEKDAY_HOUR])
    counts = {k: r.requests for k, r in by_key(report, "weekday_hour").items()}
    assert counts == {9: 2, 10: 1, 24 + 8: 1, 24 + 10: 2, 48: 1, 48 + 11: 1, 72 + 11: 1, 120: 1}
    assert by_key(report, "weekday_hour")[9].label["weekday_hour"] == "Mo 09:00"


async def test_grouped_by_office_kind_district_purpose_mode_media(db: AsyncSession, ledger: Ledger) -> None:
    """Dimension groupings count the rows copied into the ledger, several groupings at once."""
    report = await service.usage_report(
        db=db, filters=ReportFilters(), group_by=[Grouping.OFFICE_KIND, Grouping.DISTRICT, Grouping.PURPOSE]
    )
    counts = {(r.key["office_kind"], r.key["district"], r.key["purpose"]): r.requests for r in report.rows}
    assert counts == {
        ("immigration_office", "16051", "other"): 2,
        ("immigration_office", "16051", "residence_permit"): 3,
        ("job_centre", "16053", "other"): 2,
        ("job_centre", "16053", "residence_permit"): 3,
    }
    modes = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.MODE, Grouping.MEDIA])
    assert {(r.key["mode"], r.key["media"]): r.requests for r in modes.rows} == {
        ("booked", "video"): 3,
        ("on_demand", "audio"): 1,
        ("on_demand", "video"): 6,
    }
    offices = await service.usage_report(db=db, filters=ReportFilters(), group_by=[Grouping.OFFICE])
    assert {r.label["office"]: r.requests for r in offices.rows} == {"Ausländerbehörde Erfurt": 5, "Jobcenter Jena": 5}


@pytest.mark.parametrize(
    ("filters", "requests"),
    [
        ({"from": date(2025, 2, 1), "to": date(2025, 2, 28)}, 5),  # R5 is 1 Feb locally
        ({"from": date(2025, 1, 1), "to": date(2025, 1, 31)}, 4),
        ({"district": ["16051"]}, 5),
        ({"office_kind": [OfficeKind.JOB_CENTRE]}, 5),
        ({"language": ["uk", "gsg"]}, 4),
        ({"purpose": ["other"]}, 4),
        ({"mode": [RequestMode.BOOKED]}, 3),
        ({"media": [Media.AUDIO]}, 1),
        ({"language": ["ar"], "mode": [RequestMode.ON_DEMAND], "from": date(2025, 1, 7)}, 2),
    ],
)
async def test_filters(db: AsyncSession, ledger: Ledger, filters: dict, requests: int) -> None:
    """Each filter keeps exactly the hand-picked rows; local dates bound the period inclusively."""
    report = await service.usage_report(db=db, filters=ReportFilters.model_validate(filters), group_by=[])
    assert report.total.requests == requests


async def test_office_filter(db: AsyncSession, ledger: Ledger) -> None:
    """Filtering by office id keeps that office's five rows."""
    filters = ReportFilters(office_id=[ledger.world.office_b.id])
    report = await service.usage_report(db=db, filters=filters, group_by=[Grouping.LANGUAGE])
    assert report.total.requests == 5
    assert {r.key["language"] for r in report.rows} == {"uk", "gsg", "fa"}


async def test_empty_period_gives_empty_report(db: AsyncSession, ledger: Ledger) -> None:
    """A period without rows is an empty report with zero totals, not an error."""
    filters = ReportFilters.model_validate({"from": date(2025, 1, 31), "to": date(2025, 1, 31)})
    report = await service.usage_report(db=db, filters=filters, group_by=[Grouping.LANGUAGE, Grouping.MONTH])
    assert report.rows == []
    assert (report.total.requests, report.total.wait_median_s, report.total.fill_rate) == (0, None, None)
    ungrouped = await service.usage_report(db=db, filters=filters, group_by=[])
    assert ungrouped.rows == []


async def test_unknown_filter_value_lists_allowed(db: AsyncSession, ledger: Ledger) -> None:
    """An unknown language is refused with the list of known codes."""
    with pytest.raises(service.ReportInputError) as caught:
        await service.usage_report(db=db, filters=ReportFilters(language=["xx"]), group_by=[])
    assert caught.value.unknown == ["xx"]
    assert caught.value.allowed == ["ar", "fa", "gsg", "uk"]


async def test_unmet_ranking(db: AsyncSession, ledger: Ledger) -> None:
    """Languages rank by unmet count, ties by share: DGS (1 of 1), Ukrainian (1 of 2), Arabic (1 of 4)."""
    rows = await rankings.unmet_ranking(db=db, filters=ReportFilters())
    assert [(r.language, r.unmet, r.unmet_share) for r in rows] == [
        ("gsg", 1, 1.0),
        ("uk", 1, 0.5),
        ("ar", 1, 0.25),
        ("fa", 0, 0.0),
    ]
    assert (rows[0].no_interpreter, rows[1].abandoned, rows[2].unfilled) == (1, 1, 1)
    assert {r.language: r.interpreters_registered for r in rows} == {"gsg": 0, "uk": 0, "ar": 1, "fa": 1}


async def test_growth_by_office(db: AsyncSession, ledger: Ledger) -> None:
    """February against January: Jena's job centre rises 0 → 5, Erfurt falls 4 → 0."""
    report = await rankings.growth(
        db=db, filters=ReportFilters.model_validate({"to": date(2025, 2, 28)}), by=Grouping.OFFICE, months=1
    )
    assert (report.recent_from, report.previous_from, report.previous_to) == (
        date(2025, 2, 1),
        date(2025, 1, 1),
        date(2025, 1, 31),
    )
    assert [(r.label, r.previous, r.recent, r.change, r.change_pct) for r in report.rows] == [
        ("Jobcenter Jena", 0, 5, 5, None),
        ("Ausländerbehörde Erfurt", 4, 0, -4, -1.0),
    ]


async def test_pay_per_interpreter_and_month(db: AsyncSession, ledger: Ledger) -> None:
    """Pay counts sessions and talk per local month, rounds each session up to the minute, adds late cancellations."""
    rows = await rankings.pay(db=db, filters=ReportFilters())
    assert [(r.month, r.sessions, r.talk_minutes, r.billable_minutes, r.late_cancellations) for r in rows] == [
        ("2025-01", 3, 35.0, 36, 0),
        ("2025-02", 1, 30.0, 30, 1),
        ("2025-07", 1, 15.0, 15, 0),
    ]
    assert {r.interpreter_id for r in rows} == {ledger.interpreter_id}
    assert rows[0].interpreter_name == "Interpreter"


def test_percentile_interpolates_like_percentile_cont() -> None:
    """Median and p90 interpolate between neighbouring ranks of the sorted waits."""
    assert service.percentile_sorted([10, 20, 40, 60], 0.5) == 30.0
    assert service.percentile_sorted([10, 20, 40, 60], 0.9) == 54.0
    assert service.percentile_sorted([5, 5, 5], 0.9) == 5.0
    assert service.percentile_sorted([1, *[2] * 8, 100], 0.5) == 2.0
    assert service.percentile_sorted([], 0.5) is None


def test_a_row_without_demand_ratings_or_sessions_has_no_shares_rather_than_zeros() -> None:
    """Nothing to divide by gives no figure (shown as "–"), never 0 % or a division error."""
    found = figures.of_sums([2, 0, 0, 59, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0], None, None)
    assert (found["fill_rate"], found["unmet_share"], found["mean_rating"], found["problem_share"]) == (None,) * 4
    assert (found["requests_booked"], found["talk_minutes"]) == (0, 1.0)


def test_a_row_built_without_validation_equals_the_validated_row() -> None:
    """`figures.trusted` skips pydantic's checks for speed; the row it makes must be the same row."""
    values = figures.of_sums([10, 9, 5, 4801, 7, 4, 3, 1, 1, 4, 16, 1, 4, 1], 40.0, 132.0)
    values |= {"key": {"language": "ar"}, "label": {"language": "Arabisch"}}
    fast = figures.trusted(UsageRow, dict(values))
    assert fast == UsageRow.model_validate(values)
    assert fast.model_dump() == UsageRow.model_validate(values).model_dump()
    assert (fast.fill_rate, fast.unmet_share, fast.mean_rating, fast.problem_share) == (0.5556, 0.3333, 4.0, 0.2)
