"""Report figures on 1,000,000 ledger rows, SQLite and PostgreSQL (prints figures; last line JSON).

    .venv/bin/python bench/reports.py [--rows 1000000] [--pg-url postgresql+asyncpg://…]

Rows come from the demo-history generator (≈ 28 years of today's volume, no growth trend) and
are bulk-loaded: stdlib sqlite3 `executemany` into a migrated SQLite file, asyncpg COPY into a
fresh PostgreSQL database. Timings are the median of three warm runs through the service
functions the API uses, for one year (the dashboard's default period) and for all rows. XLSX
peak RSS is measured in a fresh child process that does nothing but export one year of ledger
rows.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import broker.models  # noqa: E402, F401 - every mapper, for relationship resolution
from broker.config import Settings  # noqa: E402
from broker.database import make_engine, make_sessionmaker  # noqa: E402
from broker.demo.history import LANGUAGE_WEIGHTS, Dimensions, iter_ledger_rows  # noqa: E402
from broker.enums import OfficeKind  # noqa: E402
from broker.ledger.models import LedgerEntry  # noqa: E402
from broker.migrate import upgrade  # noqa: E402
from broker.report import export, planning, service  # noqa: E402
from broker.report.schemas import Grouping, PlanningParams, ReportFilters  # noqa: E402

# Every ledger column but the generated id, in table order (COPY and INSERT use this list).
COLUMNS = [c.name for c in LedgerEntry.__table__.columns if c.name != "id"]
AT = COLUMNS.index("requested_at")
END = datetime(2026, 1, 1, tzinfo=UTC)
GROUPING = [Grouping.LANGUAGE, Grouping.OFFICE, Grouping.MONTH]


def dimensions() -> Dimensions:
    kinds = list(OfficeKind)
    offices = [(i + 1, kinds[i % len(kinds)], f"160{51 + i % 23}") for i in range(40)]
    languages = sorted(LANGUAGE_WEIGHTS) + ["ta", "om", "ff", "bn", "hi", "es"]
    interpreters = {code: [1000 + 10 * n + k for k in range(3)] for n, code in enumerate(languages) if code != "om"}
    return Dimensions(offices, languages, ["residence", "benefits", "asylum", "youth", "health", "other"], interpreters)


def generate(rows: int) -> list[tuple[Any, ...]]:
    # ~36,000 rows a year at today's volume: start far enough back that the newest rows end at END.
    start = END - timedelta(days=round((rows / 36_000 + 0.05) * 365.25))
    stream = iter_ledger_rows(
        dims=dimensions(), start=start, end=END, rng=random.Random(7), per_day=140.0, growth_per_year=0.0
    )
    out = []
    for row in itertools.islice(stream, rows):  # the oldest rows, if there are more than asked
        out.append(tuple(v.value if isinstance(v, Enum) else v for v in (row[c] for c in COLUMNS)))
    return out


def load_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    upgrade(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    times = {COLUMNS.index(c) for c in ("requested_at", "first_offered_at", "accepted_at", "connected_at", "ended_at")}

    def convert(row: tuple[Any, ...]) -> tuple[Any, ...]:
        # SQLAlchemy's SQLite storage format for UTCDateTime: naive UTC with microseconds.
        return tuple(
            v.strftime("%Y-%m-%d %H:%M:%S.%f") if i in times and v is not None else v for i, v in enumerate(row)
        )

    with sqlite3.connect(path) as conn:
        conn.executemany(
            f"INSERT INTO usage_ledger ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            map(convert, rows),
        )
        conn.execute("ANALYZE")


async def load_postgres(url: str, rows: list[tuple[Any, ...]], *, name: str | None = None) -> str:
    """COPY `rows` into a fresh database of its own (a unique name, so two bench runs at once do not
    wipe each other); `drop_postgres` removes it afterwards."""
    import asyncpg

    name = name or f"vd_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(base)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    await admin.close()
    bench_url = url.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, Settings(database_url=bench_url))
    conn = await asyncpg.connect(bench_url.replace("postgresql+asyncpg://", "postgresql://"))
    await conn.copy_records_to_table("usage_ledger", records=rows, columns=COLUMNS)
    await conn.execute("ANALYZE usage_ledger")
    await conn.close()
    return bench_url


async def drop_postgres(bench_url: str) -> None:
    """Drop a database `load_postgres` made (connecting to the server's default database)."""
    import asyncpg

    base, name = bench_url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# The usage tables a manager reads: by language (the API's default and the dashboard's first
# table), by month (the dashboard's trend) and by language × office.
READ_GROUPINGS = [[Grouping.LANGUAGE], [Grouping.MONTH], [Grouping.LANGUAGE, Grouping.OFFICE]]


async def timed(url: str, label: str, groupings: list[list[Grouping]] | None = None) -> dict[str, float]:
    """Median of three warm runs of each report; `usage_all`/`usage_year` are the slowest of `groupings`.

    Default: the finest grouping, GROUPING. Each grouping's figure is kept too, under
    `usage_all:<grouping>` and `usage_year:<grouping>`.
    """
    engine = make_engine(Settings(database_url=url))
    sessions = make_sessionmaker(engine)
    year = ReportFilters.model_validate({"from": date(2025, 1, 1), "to": date(2025, 12, 31)})
    figures: dict[str, float] = {}
    works: list[tuple[str, Any]] = []
    for group_by in groupings or [GROUPING]:
        name = "×".join(g.value for g in group_by)
        works.append((f"usage_all:{name}", lambda db, g=group_by: service.usage_report(
            db=db, filters=ReportFilters(), group_by=g)))
        works.append((f"usage_year:{name}", lambda db, g=group_by: service.usage_report(
            db=db, filters=year, group_by=g)))
    works.append(("planning_year", lambda db: planning.planning_report(db=db, filters=year, params=PlanningParams())))
    for name, work in works:
        runs = []
        for _ in range(3):
            async with sessions() as db:
                began = time.perf_counter()
                result = await work(db)
                runs.append(time.perf_counter() - began)
        size = len(getattr(result, "rows", getattr(result, "slots", [])))
        figures[name] = statistics.median(runs)
        print(f"{label:<10} {name:<40} {figures[name]:7.3f} s  (median of 3; {size} result rows)", flush=True)
    for scope in ("usage_all", "usage_year"):
        figures[scope] = max(value for key, value in figures.items() if key.startswith(f"{scope}:"))
    await engine.dispose()
    return figures


def peak_rss_mib() -> float:
    """This process's peak RSS since exec (VmHWM). ru_maxrss would carry over the forking parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def xlsx_child(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    year = ReportFilters.model_validate({"from": date(2025, 1, 1), "to": date(2025, 12, 31)})
    async with make_sessionmaker(engine)() as db:
        handle = await export.ledger_xlsx(db=db, filters=year)
        size = sum(len(chunk) for chunk in export.file_chunks(handle))
    peak = peak_rss_mib()
    async with make_sessionmaker(engine)() as db:
        count = sum([1 async for _ in export.ledger_rows(db=db, filters=year)])
    await engine.dispose()
    print(json.dumps({"rows": count, "bytes": size, "peak_rss_mib": round(peak, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("VD_TEST_DATABASE_URL_PG", ""))
    parser.add_argument("--xlsx-child", default="")
    args = parser.parse_args()
    if args.xlsx_child:
        asyncio.run(xlsx_child(args.xlsx_child))
        return
    if not args.pg_url:
        args.pg_url = subprocess.run(
            ["scripts/ensure-postgres.sh"], capture_output=True, text=True, check=True
        ).stdout.strip()
    began = time.perf_counter()
    rows = generate(args.rows)
    print(
        f"generated {len(rows):,} ledger rows in {time.perf_counter() - began:.1f} s "
        f"({rows[0][AT]:%Y-%m-%d} … {rows[-1][AT]:%Y-%m-%d})"
    )
    workdir = Path(tempfile.mkdtemp(prefix="vd-bench-"))
    sqlite_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    began = time.perf_counter()
    load_sqlite(workdir / "bench.db", rows)
    print(f"loaded SQLite in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    pg_url = asyncio.run(load_postgres(args.pg_url, rows))
    print(f"loaded PostgreSQL (COPY) in {time.perf_counter() - began:.1f} s")
    del rows
    lite = asyncio.run(timed(sqlite_url, "sqlite"))
    try:
        pg = asyncio.run(timed(pg_url, "postgresql"))
    finally:
        asyncio.run(drop_postgres(pg_url))
    child = subprocess.run(
        [sys.executable, __file__, "--xlsx-child", sqlite_url], capture_output=True, text=True, check=True
    )
    xlsx = json.loads(child.stdout.strip().splitlines()[-1])
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"xlsx export of one year ({xlsx['rows']:,} ledger rows, {xlsx['bytes'] / 2**20:.1f} MiB file): "
        f"peak RSS {xlsx['peak_rss_mib']} MiB"
    )
    print(
        "usage_report_*_s: language × office × month over 2025 (the dashboard's default period: one year); "
        "usage_report_all_rows_*_s: the same over all rows"
    )
    print(
        json.dumps(
            {
                "rows": args.rows,
                "usage_report_sqlite_s": round(lite["usage_year"], 3),
                "usage_report_postgresql_s": round(pg["usage_year"], 3),
                "usage_report_all_rows_sqlite_s": round(lite["usage_all"], 3),
                "usage_report_all_rows_postgresql_s": round(pg["usage_all"], 3),
                "planning_s": round(max(lite["planning_year"], pg["planning_year"]), 3),
                "xlsx_export_peak_rss_mib": xlsx["peak_rss_mib"],
            }
        )
    )


if __name__ == "__main__":
    main()
