"""The usage roll-up: kept equal to the ledger by its triggers, and the fast report path equals ledger rows.

Property tests with seeded random ledgers (the seed is in the failure message): for random
ledger contents, random filters, periods (edges mid-month, on month boundaries, across the
daylight-saving changes) and groupings, the report from roll-up cells plus edge rows equals the
report computed from ledger rows alone, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.enums import LedgerOutcome as O
from broker.enums import Media, OfficeKind, RequestMode
from broker.ledger import rollup
from broker.ledger import service as ledger_service
from broker.ledger.models import LedgerEntry, UsageRollup, UsageRollupYear, local_keys
from broker.report import cells, service
from broker.report import rows as report_rows
from broker.report.schemas import Grouping, ReportFilters
from tests.conftest import World

LANGUAGES = ["ar", "uk", "fa", "gsg"]
PURPOSES = ["residence_permit", "other"]
ROLLUP_GROUPINGS = [Grouping.LANGUAGE, Grouping.OFFICE, Grouping.OFFICE_KIND, Grouping.DISTRICT, Grouping.MONTH]
# Whole local year 2024 lies inside, so reports over whole years read the year cells.
FIRST = datetime(2023, 11, 20, tzinfo=UTC)
LAST = datetime(2025, 5, 10, tzinfo=UTC)
# Local month starts (23:00 or 22:00 UTC the day before): rows just before and after them.
MONTH_EDGES = [datetime(2023, 12, 1, tzinfo=UTC)] + [datetime(2024, m, 1, tzinfo=UTC) for m in (1, 3, 10, 11, 12)] + [
    datetime(2025, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4, 5)
]


def random_row(rng: random.Random, world: World) -> dict[str, Any]:
    office = rng.choice([world.office_a, world.office_b])
    if rng.random() < 0.5:
        at = FIRST + timedelta(seconds=rng.randrange(int((LAST - FIRST).total_seconds())))
    else:  # near a local month boundary, so part months and cells meet exactly there
        at = rng.choice(MONTH_EDGES) + timedelta(minutes=rng.randrange(-150, 90))
    mode = rng.choice([RequestMode.ON_DEMAND, RequestMode.ON_DEMAND, RequestMode.BOOKED])
    outcome = rng.choice(list(O))
    connected = at + timedelta(seconds=rng.randrange(200)) if outcome in (O.COMPLETED, O.FAILED) else None
    return {
        "office_id": office.id,
        "office_kind": OfficeKind(office.kind),
        # An office that moved district keeps its old rows' district: two cells for one office and month.
        "district_ags": office.district_ags if rng.random() < 0.85 else "16053",
        "language_code": rng.choice(LANGUAGES),
        "purpose": rng.choice(PURPOSES),
        "mode": mode,
        "media": rng.choice(list(Media)),
        "requested_at": at,
        "connected_at": connected,
        "ended_at": (connected or at) + timedelta(seconds=rng.randrange(1, 900)),
        "wait_seconds": rng.choice([None, rng.randrange(0, 400), rng.randrange(0, 30)]),
        "talk_seconds": rng.randrange(0, 1800) if connected else 0,
        "outcome": outcome,
        "rating": rng.choice([None, None, 1, 3, 5]),
        "problems": rng.choice([None, None, "", "audio"]),
        "late_cancellation": rng.random() < 0.1,
    }


def expected_cells(rows: list[Any], *, years: bool = False) -> dict[tuple[Any, ...], tuple[list[int], list[int]]]:
    """The roll-up (month cells, or year cells) recomputed in Python from ledger rows, from docs/reports.md."""
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 14)
    waits: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for r in rows:
        period = r.local_month[:4] if years else r.local_month
        key = (period, r.office_id, r.language_code, str(r.office_kind.value), r.district_ags)
        on_demand = r.mode is RequestMode.ON_DEMAND
        measured = on_demand and r.connected_at is not None and r.wait_seconds is not None
        censored = on_demand and r.outcome is O.UNFILLED and r.wait_seconds is not None
        values = [
            1,
            not (r.mode is RequestMode.BOOKED and r.outcome is O.CANCELLED),
            r.connected_at is not None,
            r.talk_seconds,
            on_demand,
            on_demand and r.connected_at is not None,
            r.outcome in (O.UNFILLED, O.NO_INTERPRETER) or (r.outcome is O.CANCELLED and on_demand),
            r.outcome is O.NO_SHOW,
            bool(r.late_cancellation),
            r.rating is not None,
            r.rating or 0,
            bool(r.problems),
            measured,
            censored,
        ]
        out[key] = [a + int(b) for a, b in zip(out[key], values, strict=True)]
        if measured or censored:
            waits[key].append(r.wait_seconds)
    return {key: (sums, sorted(waits[key])) for key, sums in out.items()}


async def assert_rollup_matches_ledger(db: AsyncSession) -> None:
    """Both tiers, month cells and year cells, equal their recomputation from the ledger rows."""
    ledger = list((await db.execute(select(LedgerEntry))).scalars().all())
    for model, tier in ((UsageRollup, rollup.MONTH), (UsageRollupYear, rollup.YEAR)):
        stored = {}
        for cell in (await db.execute(select(model))).scalars().all():
            key = tuple(getattr(cell, k) for k in tier.keys)
            waits = sorted(int(w) for w in cell.waits.split(",")) if cell.waits else []
            stored[key] = ([getattr(cell, name) for name in rollup.SUM_COLUMNS], waits)
        assert stored == expected_cells(ledger, years=tier is rollup.YEAR), tier.table


async def add_random_ledger(db: AsyncSession, world: World, rng: random.Random, count: int) -> None:
    rows = [random_row(rng, world) for _ in range(count)]
    half = count // 2
    db.add_all(LedgerEntry(**row) for row in rows[:half])  # the ORM (as refused demand is written)
    await db.flush()
    for row in rows[half:]:  # Core inserts (as the demo history writes); local keys as the column default
        month, how = local_keys(row["requested_at"])
        await db.execute(insert(LedgerEntry).values(**row, local_month=month, local_how=how, offers_made=0))
    await db.commit()


def random_day(rng: random.Random) -> date:
    choice = rng.random()
    if choice < 0.3:  # a first of a month (a first of a year often)
        return date(rng.choice([2023, 2024, 2025]), rng.choice([1, 1, 1, 2, 3, 4, 10, 11, 12]), 1)
    if choice < 0.5:  # a last of a month (a last of a year often)
        first = date(rng.choice([2023, 2024, 2025]), rng.choice([12, 12, 12, 1, 2, 3, 9, 10, 11]), 1)
        return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return date(2023, 11, 15) + timedelta(days=rng.randrange(550))


def random_filters(rng: random.Random, world: World) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    days = sorted([random_day(rng), random_day(rng)])
    if rng.random() < 0.8:
        filters["from"] = days[0]
    if rng.random() < 0.8:
        filters["to"] = days[1] if rng.random() < 0.9 else days[0]
    if rng.random() < 0.25:
        filters["office_id"] = [rng.choice([world.office_a, world.office_b]).id]
    if rng.random() < 0.2:
        filters["office_kind"] = [rng.choice([OfficeKind.IMMIGRATION_OFFICE, OfficeKind.JOB_CENTRE])]
    if rng.random() < 0.2:
        filters["district"] = [rng.choice(["16051", "16053"])]
    if rng.random() < 0.3:
        filters["language"] = rng.sample(LANGUAGES, rng.randint(1, 3))
    if rng.random() < 0.1:  # not carried by the roll-up: the ledger rows answer
        filters["purpose"] = [rng.choice(PURPOSES)]
    return filters


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollup_equals_ledger_after_inserts_rating_changes_and_deletes(
    db: AsyncSession, world: World, seed: int
) -> None:
    """Whoever writes the ledger (ORM, Core, an UPDATE of the rating, a DELETE), each cell stays its rows' sum."""
    rng = random.Random(seed)
    await add_random_ledger(db, world, rng, 120)
    await assert_rollup_matches_ledger(db)
    ids = list((await db.execute(select(LedgerEntry.id))).scalars())
    for entry_id in rng.sample(ids, 25):
        await db.execute(update(LedgerEntry).where(LedgerEntry.id == entry_id).values(
            rating=rng.choice([None, 2, 4]), problems=rng.choice([None, "", "video"])))
    await db.commit()
    await assert_rollup_matches_ledger(db)
    for entry_id in rng.sample(ids, 30):
        await db.execute(delete(LedgerEntry).where(LedgerEntry.id == entry_id))
    await db.commit()
    await assert_rollup_matches_ledger(db)


async def test_ledger_row_and_its_cell_commit_or_roll_back_together(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """A ledger write rolled back leaves no trace in the roll-up; committed, both are there."""
    async def write(session: AsyncSession) -> None:
        await ledger_service.record_no_interpreter(
            db=session, office=world.office_a, language_code="gsg", purpose="other", mode=RequestMode.ON_DEMAND,
            media=Media.VIDEO, now=datetime(2025, 3, 4, 10, tzinfo=UTC))

    async with sessionmaker() as session:
        await write(session)
        inside = (await session.execute(select(UsageRollup.requests, UsageRollup.unmet))).all()
        assert inside == [(1, 1)]  # the cell changed in the same transaction as the row
        await session.rollback()
    async with sessionmaker() as session:
        assert (await session.execute(select(UsageRollup))).first() is None
        assert (await session.execute(select(LedgerEntry))).first() is None
        await write(session)
        await session.commit()
    async with sessionmaker() as session:
        assert (await session.execute(select(UsageRollup.requests, UsageRollup.unmet))).all() == [(1, 1)]
        await assert_rollup_matches_ledger(session)


async def test_rating_given_after_the_call_keeps_the_rollup_equal(db: AsyncSession, world: World) -> None:
    """`update_rating` changes a written ledger row; its cell's ratings, rating sum and problems follow."""
    row = random_row(random.Random(5), world) | {"rating": None, "problems": None}
    db.add(LedgerEntry(request_id=4242, **row))
    await db.commit()
    request: Any = SimpleNamespace(id=4242, rating=2, rating_problems="audio")
    await ledger_service.update_rating(db=db, request=request)
    await db.commit()
    cell = (await db.execute(select(UsageRollup))).scalar_one()
    assert (cell.ratings, cell.rating_sum, cell.with_problems) == (1, 2, 1)
    await assert_rollup_matches_ledger(db)


async def test_rebuild_recomputes_a_lost_rollup(db: AsyncSession, world: World) -> None:
    """`rebuild` (the CLI's rebuild-rollups) restores every cell from the ledger, reporting each year."""
    await add_random_ledger(db, world, random.Random(11), 80)
    await db.execute(text("DELETE FROM usage_rollup"))
    await db.execute(text("DELETE FROM usage_rollup_year"))
    await db.commit()
    years: list[tuple[int, int, int]] = []
    cells_written = await rollup.rebuild(db=db, progress=lambda *year: years.append(year))
    await db.commit()
    await assert_rollup_matches_ledger(db)
    assert [y for y, _, _ in years] == [2023, 2024, 2025]
    assert sum(rows for _, _, rows in years) == 80
    assert cells_written == (await db.execute(select(UsageRollup))).all().__len__()


@pytest.mark.parametrize("seed", range(4))
async def test_fast_path_equals_ledger_rows_for_random_ledgers_filters_and_periods(
    db: AsyncSession, world: World, seed: int
) -> None:
    """Year cells, month cells and part-month edge rows give exactly the ledger rows' report."""
    rng = random.Random(seed)
    await add_random_ledger(db, world, rng, 150)
    used_rollup = used_years = 0
    for case in range(30):
        filters = ReportFilters.model_validate(random_filters(rng, world))
        pool = ROLLUP_GROUPINGS + ([Grouping.PURPOSE, Grouping.WEEK] if rng.random() < 0.15 else [])
        group_by = rng.sample(pool, rng.randint(0, 3))
        part = cells.split(filters, group_by)
        used_rollup += part is not None
        used_years += part is not None and part.years is not None
        fast = await service.usage_report(db=db, filters=filters, group_by=group_by)
        slow = await service.usage_report(db=db, filters=filters, group_by=group_by, use_rollup=False)
        assert fast.model_dump() == slow.model_dump(), f"seed {seed} case {case}: {filters!r} by {group_by}"
    assert used_rollup >= 10  # the property is about the fast path: most cases must take it
    assert used_years >= 3


def test_split_reads_whole_months_from_cells_and_part_months_from_rows() -> None:
    """A period from 15 Jan to 10 Apr: cells for Feb–Mar, ledger rows for 15–31 Jan and 1–10 Apr."""
    part = cells.split(ReportFilters.model_validate({"from": "2025-01-15", "to": "2025-04-10"}), [Grouping.LANGUAGE])
    assert part is not None
    assert (part.years, part.months) == (None, [("2025-02", "2025-03")])
    assert [(s and s.isoformat(), e and e.isoformat()) for s, e in part.edges] == [
        ("2025-01-14T23:00:00+00:00", "2025-01-31T23:00:00+00:00"),
        ("2025-03-31T22:00:00+00:00", "2025-04-10T22:00:00+00:00"),
    ]
    assert cells.split(ReportFilters.model_validate({"from": "2025-01-02", "to": "2025-01-30"}), []) is None
    assert cells.split(ReportFilters(), [Grouping.WEEKDAY_HOUR]) is None
    assert cells.split(ReportFilters(mode=[RequestMode.BOOKED]), []) is None


def test_split_reads_whole_years_from_year_cells_unless_the_report_is_by_month() -> None:
    """15 Mar 2023 – 10 May 2025: year cells for 2024, month cells for Apr–Dec 2023 and Jan–Apr 2025, rows at edges."""
    period = ReportFilters.model_validate({"from": "2023-03-15", "to": "2025-05-10"})
    part = cells.split(period, [Grouping.LANGUAGE])
    assert part is not None
    assert (part.years, part.months) == (("2024", "2024"), [("2023-04", "2023-12"), ("2025-01", "2025-04")])
    assert len(part.edges) == 2
    by_month = cells.split(period, [Grouping.LANGUAGE, Grouping.MONTH])
    assert by_month is not None and (by_month.years, by_month.months) == (None, [("2023-04", "2025-04")])
    assert cells.split(ReportFilters.model_validate({"from": "2025-01-01", "to": "2025-12-31"}), []) == cells.Split(
        ("2025", "2025"), [], [])
    assert cells.split(ReportFilters(), [Grouping.OFFICE]) == cells.Split((None, None), [], [])
    assert cells.split(ReportFilters.model_validate({"to": "2024-06-30"}), []) == cells.Split(
        (None, "2023"), [("2024-01", "2024-06")], [])
    within = cells.split(ReportFilters.model_validate({"from": "2024-02-01", "to": "2024-11-30"}), [])
    assert within == cells.Split(None, [("2024-02", "2024-11")], [])


async def test_a_whole_year_report_reads_the_year_cells(db: AsyncSession, world: World) -> None:
    """Proof that the year tier is read (and not only kept): a year cell changed by hand shows in the report."""
    await add_random_ledger(db, world, random.Random(21), 60)
    year = ReportFilters.model_validate({"from": "2024-01-01", "to": "2024-12-31"})
    before = await service.usage_report(db=db, filters=year, group_by=[Grouping.LANGUAGE])
    year_cells = len((await db.execute(select(UsageRollupYear).where(UsageRollupYear.local_year == "2024"))).all())
    assert year_cells >= len(before.rows) > 1
    await db.execute(update(UsageRollupYear).where(UsageRollupYear.local_year == "2024").values(
        requests=UsageRollupYear.requests + 1000))
    after = await service.usage_report(db=db, filters=year, group_by=[Grouping.LANGUAGE])
    assert after.total.requests == before.total.requests + 1000 * year_cells
    by_month = await service.usage_report(db=db, filters=year, group_by=[Grouping.MONTH])
    assert by_month.total.requests == before.total.requests  # months come from month cells


def test_vectorised_group_percentiles_equal_sorted_list_percentiles() -> None:
    """Every group's and the total's median and p90 from the one numpy pass equal interpolation over sorted waits."""
    rng = random.Random(3)
    for _ in range(100):
        sizes = [rng.choice([0, 1, 2, rng.randint(3, 40)]) for _ in range(rng.randint(1, 30))]
        groups = [[rng.choice([rng.randrange(5), rng.randrange(400)]) for _ in range(size)] for size in sizes]
        texts = [",".join(map(str, waits)) or None for waits in groups]
        (medians, p90s), (median, p90) = report_rows.group_percentiles(texts, (0.5, 0.9))
        assert medians == [service.percentile_sorted(sorted(w), 0.5) for w in groups]
        assert p90s == [service.percentile_sorted(sorted(w), 0.9) for w in groups]
        everything = sorted(w for waits in groups for w in waits)
        assert (median, p90) == (service.percentile_sorted(everything, 0.5), service.percentile_sorted(everything, 0.9))


def test_group_percentiles_refuse_waits_that_are_not_whole_seconds() -> None:
    """A malformed waits text is an error, not a silently shifted percentile of the next group."""
    with pytest.raises(ValueError, match="whole seconds"):
        report_rows.group_percentiles(["1,2", "x"], (0.5,))


async def test_cli_rebuild_rollups_prints_progress_and_restores_cells(
    db: AsyncSession, world: World, database_url: str
) -> None:
    """`videodolmetschen report rebuild-rollups` recomputes a wiped roll-up and says what it did per year."""
    await add_random_ledger(db, world, random.Random(12), 40)
    await db.execute(text("DELETE FROM usage_rollup"))
    await db.execute(text("DELETE FROM usage_rollup_year"))
    await db.commit()
    env = {**os.environ, "VD_DATABASE_URL": database_url}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "broker.cli", "report", "rebuild-rollups"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2024: " in done.stderr and "2025: " in done.stderr and "ledger rows in" in done.stderr
    assert "Rebuilt the usage roll-up" in done.stdout
    db.expire_all()
    await assert_rollup_matches_ledger(db)


async def test_concurrent_ledger_writers_to_one_cell_all_count(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Eight transactions writing rows of the same cell at once: the cell counts every committed row."""
    async def write(minute: int) -> None:
        async with sessionmaker() as session:
            await ledger_service.record_no_interpreter(
                db=session, office=world.office_b, language_code="uk", purpose="other", mode=RequestMode.ON_DEMAND,
                media=Media.AUDIO, now=datetime(2025, 6, 2, 9, minute, tzinfo=UTC))
            await session.commit()

    await asyncio.gather(*(write(minute) for minute in range(8)))
    async with sessionmaker() as session:
        assert (await session.execute(select(UsageRollup.requests))).scalars().all() == [8]
        await assert_rollup_matches_ledger(session)


async def test_demo_history_bulk_inserts_fill_the_rollup(db: AsyncSession, world: World) -> None:
    """The demo history writes the ledger with bulk Core inserts; its cells are right all the same."""
    from broker.demo import history

    written = await history.generate_history(db=db, months=2, seed=3)
    await db.commit()
    assert written > 0
    await assert_rollup_matches_ledger(db)
