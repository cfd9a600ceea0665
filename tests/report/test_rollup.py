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
from collections import Counter, defaultdict
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
from broker.ledger.models import LedgerEntry, UsageRollup, local_keys
from broker.report import cells, service
from broker.report import rows as report_rows
from broker.report.schemas import Grouping, ReportFilters
from tests.conftest import World

LANGUAGES = ["ar", "uk", "fa", "gsg"]
PURPOSES = ["residence_permit", "other"]
ROLLUP_GROUPINGS = [Grouping.LANGUAGE, Grouping.OFFICE, Grouping.OFFICE_KIND, Grouping.DISTRICT, Grouping.MONTH]
FIRST = datetime(2024, 9, 20, tzinfo=UTC)
LAST = datetime(2025, 5, 10, tzinfo=UTC)
# Local month starts (23:00 or 22:00 UTC the day before): rows just before and after them.
MONTH_EDGES = [datetime(2024, m, 1, tzinfo=UTC) for m in (10, 11, 12)] + [
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


def expected_cells(rows: list[Any]) -> dict[tuple[Any, ...], tuple[list[int], list[int]]]:
    """The roll-up recomputed in Python from ledger rows, from docs/reports.md's definitions."""
    out: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 14)
    waits: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for r in rows:
        key = (r.local_month, r.office_id, r.language_code, str(r.office_kind.value), r.district_ags)
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
    ledger = (await db.execute(select(LedgerEntry))).scalars().all()
    stored = {}
    for cell in (await db.execute(select(UsageRollup))).scalars().all():
        key = tuple(getattr(cell, k) for k in rollup.KEYS)
        waits = sorted(int(w) for w in cell.waits.split(",")) if cell.waits else []
        stored[key] = ([getattr(cell, name) for name in rollup.SUM_COLUMNS], waits)
    assert stored == expected_cells(list(ledger))


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
    if choice < 0.3:  # a first of a month
        return date(rng.choice([2024, 2025]), rng.choice([1, 2, 3, 4, 10, 11, 12]), 1)
    if choice < 0.5:  # a last of a month
        first = date(rng.choice([2024, 2025]), rng.choice([1, 2, 3, 9, 10, 11, 12]), 1)
        return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return date(2024, 9, 15) + timedelta(days=rng.randrange(250))


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
    await db.commit()
    years: list[tuple[int, int, int]] = []
    cells_written = await rollup.rebuild(db=db, progress=lambda *year: years.append(year))
    await db.commit()
    await assert_rollup_matches_ledger(db)
    assert [y for y, _, _ in years] == [2024, 2025]
    assert sum(rows for _, _, rows in years) == 80
    assert cells_written == (await db.execute(select(UsageRollup))).all().__len__()


@pytest.mark.parametrize("seed", range(4))
async def test_fast_path_equals_ledger_rows_for_random_ledgers_filters_and_periods(
    db: AsyncSession, world: World, seed: int
) -> None:
    """Roll-up cells for whole months plus part-month edge rows give exactly the ledger rows' report."""
    rng = random.Random(seed)
    await add_random_ledger(db, world, rng, 150)
    used_rollup = 0
    for case in range(30):
        filters = ReportFilters.model_validate(random_filters(rng, world))
        pool = ROLLUP_GROUPINGS + ([Grouping.PURPOSE, Grouping.WEEK] if rng.random() < 0.15 else [])
        group_by = rng.sample(pool, rng.randint(0, 3))
        used_rollup += cells.split(filters, group_by) is not None
        fast = await service.usage_report(db=db, filters=filters, group_by=group_by)
        slow = await service.usage_report(db=db, filters=filters, group_by=group_by, use_rollup=False)
        assert fast.model_dump() == slow.model_dump(), f"seed {seed} case {case}: {filters!r} by {group_by}"
    assert used_rollup >= 10  # the property is about the fast path: most cases must take it


def test_split_reads_whole_months_from_cells_and_part_months_from_rows() -> None:
    """A period from 15 Jan to 10 Apr: cells for Feb–Mar, ledger rows for 15–31 Jan and 1–10 Apr."""
    part = cells.split(ReportFilters.model_validate({"from": "2025-01-15", "to": "2025-04-10"}), [Grouping.LANGUAGE])
    assert part is not None
    assert (part.first_month, part.last_month) == ("2025-02", "2025-03")
    assert [(s and s.isoformat(), e and e.isoformat()) for s, e in part.edges] == [
        ("2025-01-14T23:00:00+00:00", "2025-01-31T23:00:00+00:00"),
        ("2025-03-31T22:00:00+00:00", "2025-04-10T22:00:00+00:00"),
    ]
    whole = cells.split(ReportFilters.model_validate({"from": "2025-01-01", "to": "2025-12-31"}), [])
    assert whole == cells.Split("2025-01", "2025-12", [])
    assert cells.split(ReportFilters.model_validate({"from": "2025-01-02", "to": "2025-01-30"}), []) is None
    assert cells.split(ReportFilters(), [Grouping.WEEKDAY_HOUR]) is None
    assert cells.split(ReportFilters(mode=[RequestMode.BOOKED]), []) is None


def test_histogram_percentile_equals_sorted_list_percentile() -> None:
    """The total's median and p90 from a histogram of whole seconds equal interpolation over the sorted waits."""
    rng = random.Random(3)
    for _ in range(300):
        waits = sorted(rng.choice([rng.randrange(5), rng.randrange(400)]) for _ in range(rng.randint(1, 40)))
        for fraction in (0.5, 0.9):
            assert report_rows.histogram_percentile(Counter(waits), fraction) == service.percentile_sorted(
                waits, fraction)
    assert report_rows.histogram_percentile(Counter(), 0.5) is None


async def test_cli_rebuild_rollups_prints_progress_and_restores_cells(
    db: AsyncSession, world: World, database_url: str
) -> None:
    """`videodolmetschen report rebuild-rollups` recomputes a wiped roll-up and says what it did per year."""
    await add_random_ledger(db, world, random.Random(12), 40)
    await db.execute(text("DELETE FROM usage_rollup"))
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
