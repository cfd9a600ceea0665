"""Planning-issue figures: ledger XLSX of one year, usage reports over all rows and one year (prints; last line JSON).

    .venv/bin/python bench/planning.py [--rows 1000000] [--pg-url postgresql+asyncpg://…]

Rows, loading and the usage timings come from bench/reports.py (the same generator, bulk
loads and service calls; median of three warm runs). `usage_all_rows_*_s` and `usage_year_*_s`
are the slowest of the usage tables a manager reads — by language (the API's default), by
month, by language × office — over all rows and over 2025. The finest grouping, language ×
office × month (≈ 240,000 rows over all time: a table for export, not for reading), is printed
and reported as `usage_all_rows_finest_*_s`. `ledger_xlsx_year_s` is the wall time of
`export.ledger_xlsx` for 2025 on SQLite, file read to the end.

The head-count plan (issue 15 item 9, `broker/routing/plan.py`) on the shipped Thuringian
scenario with the default target (80 % within 60 s for languages with ≥ 40 requests a week,
coverage ≥ 90 % for the others): `plan_s` is the wall time of the whole plan for all 168 hours
(search and its check); `roster_max_shortfall_pp` the largest shortfall of a language below its
target when the recommended roster is re-simulated with fresh seeds (languages with at least
200 requests in the check; rarer ones are listed in the report); `plan_vs_erlang_hours_ratio`
the plan's interpreter-hours over the per-language Erlang C sum.
`--plan-only` skips the ledger loading and prints just the plan keys.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import reports  # noqa: E402 - bench/reports.py: generator, loaders, timings

from broker.config import Settings  # noqa: E402
from broker.database import make_engine, make_sessionmaker  # noqa: E402
from broker.report import export  # noqa: E402
from broker.report.schemas import ReportFilters  # noqa: E402
from broker.routing.plan import plan  # noqa: E402
from broker.routing.scenario import THURINGIA, load_scenario  # noqa: E402


async def xlsx_year_seconds(url: str) -> tuple[float, int]:
    engine = make_engine(Settings(database_url=url))
    year = ReportFilters.model_validate({"from": date(2025, 1, 1), "to": date(2025, 12, 31)})
    async with make_sessionmaker(engine)() as db:
        began = time.perf_counter()
        handle = await export.ledger_xlsx(db=db, filters=year)
        size = sum(len(chunk) for chunk in export.file_chunks(handle))
        seconds = time.perf_counter() - began
    await engine.dispose()
    return seconds, size


def plan_figures() -> dict[str, object]:
    scenario = load_scenario(THURINGIA)
    began = time.perf_counter()
    report = plan(scenario)
    seconds = time.perf_counter() - began
    print(f"plan: {report.plan_hours:g} interpreter-hours a week vs Erlang C sum {report.erlang_hours:g} "
          f"(online today {report.online_hours:g}); {report.rounds} rounds, {report.simulations} simulations; "
          f"stopped early: {report.stop_reason or 'no'}")
    return {
        "plan_s": round(seconds, 2),
        "roster_max_shortfall_pp": report.max_shortfall_pp,
        "plan_vs_erlang_hours_ratio": report.plan_vs_erlang_ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=os.environ.get("VD_TEST_DATABASE_URL_PG", ""))
    parser.add_argument("--plan-only", action="store_true", help="Only the head-count plan keys")
    args = parser.parse_args()
    figures = plan_figures()
    if args.plan_only:
        print(json.dumps(figures))
        return
    if not args.pg_url:
        args.pg_url = subprocess.run(
            ["scripts/ensure-postgres.sh"], capture_output=True, text=True, check=True
        ).stdout.strip()
    rows = reports.generate(args.rows)
    workdir = Path(tempfile.mkdtemp(prefix="vd-bench-planning-"))
    sqlite_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    reports.load_sqlite(workdir / "bench.db", rows)
    pg_url = asyncio.run(reports.load_postgres(args.pg_url, rows))
    del rows
    groupings = [*reports.READ_GROUPINGS, reports.GROUPING]
    lite = asyncio.run(reports.timed(sqlite_url, "sqlite", groupings))
    try:
        pg = asyncio.run(reports.timed(pg_url, "postgresql", groupings))
    finally:
        asyncio.run(reports.drop_postgres(pg_url))
    xlsx_s, xlsx_bytes = asyncio.run(xlsx_year_seconds(sqlite_url))
    finest = "×".join(g.value for g in reports.GROUPING)
    read_names = ["×".join(g.value for g in group_by) for group_by in reports.READ_GROUPINGS]

    def read(figures: dict[str, float], scope: str) -> float:
        return max(figures[f"{scope}:{name}"] for name in read_names)

    shutil.rmtree(workdir, ignore_errors=True)
    print(f"ledger xlsx of 2025 on SQLite: {xlsx_s:.2f} s, {xlsx_bytes / 2**20:.1f} MiB")
    print(
        json.dumps(
            {
                **figures,
                "ledger_xlsx_year_s": round(xlsx_s, 3),
                "usage_all_rows_sqlite_s": round(read(lite, "usage_all"), 3),
                "usage_all_rows_postgresql_s": round(read(pg, "usage_all"), 3),
                "usage_year_sqlite_s": round(read(lite, "usage_year"), 3),
                "usage_year_postgresql_s": round(read(pg, "usage_year"), 3),
                "usage_all_rows_finest_sqlite_s": round(lite[f"usage_all:{finest}"], 3),
                "usage_all_rows_finest_postgresql_s": round(pg[f"usage_all:{finest}"], 3),
                "rows": args.rows,
            }
        )
    )


if __name__ == "__main__":
    main()
