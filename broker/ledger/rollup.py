"""The usage roll-ups (`usage_rollup` per month, `usage_rollup_year` per year): cells, triggers, a rebuild.

Why triggers and not the ledger service: the ledger has several writers (the service's
INSERT … SELECT, the ORM for refused demand, the demo history's bulk inserts, COPY in the bench,
tests' factories, a rating given after the call). A row trigger runs inside the statement
that changes the ledger row, so the cell and the row commit or roll back together whoever
writes. Inserts add the row to its cell (an UPSERT), deletes take it out again (the wait is
removed from the cell's list once) and an update does both, old then new.

Two tiers with the same sums: months (for reports by month and for part years) and local years
(a report over whole years reads a twelfth of the cells; an all-time report over a million ledger
rows scans ~30,000 year cells instead of ~240,000 month cells).

The SQL is generated here once from `contributions` and used by migrations 0007 and 0008, by
`rebuild` and (as the same definitions in SQLAlchemy form) by the report's raw-row path in
broker/report/service.py; tests/report/test_rollup.py checks that all of them agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, String, Text, bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from broker.database import UTCDateTime
from broker.ledger.models import LOCAL_TZ, LedgerEntry, local_keys


@dataclass(frozen=True)
class Tier:
    """One roll-up table: its name, its period column and how a ledger row's local month gives that period."""

    table: str
    period: str
    period_of: str  # SQL with {r} for the ledger row prefix

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.period, "office_id", "language_code", "office_kind", "district_ags")

    def key_values(self, r: str) -> list[str]:
        return [self.period_of.format(r=r), *(f"{r}{key}" for key in self.keys[1:])]


MONTH = Tier("usage_rollup", "local_month", "{r}local_month")
YEAR = Tier("usage_rollup_year", "local_year", "substr({r}local_month, 1, 4)")
TIERS = (MONTH, YEAR)
TABLE = MONTH.table
KEYS = MONTH.keys
SUM_COLUMNS = (
    "requests", "demand", "sessions", "talk_seconds", "requests_on_demand", "sessions_on_demand", "unmet",
    "no_shows", "late_cancellations", "ratings", "rating_sum", "with_problems", "waits_measured", "waits_censored",
)


def cell_columns() -> list[Column[Any]]:
    """A roll-up table's columns after its period, as its migration creates them (0007 and 0008)."""
    return [
        Column("office_id", Integer(), nullable=False),
        Column("language_code", String(length=16), nullable=False),
        Column("office_kind", String(length=32), nullable=False),
        Column("district_ags", String(length=8), nullable=False),
        *(Column(name, Integer(), nullable=False) for name in SUM_COLUMNS),
        Column("waits", Text(), nullable=True),
    ]


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _measured(r: str) -> str:
    return f"({r}mode = 'on_demand' AND {r}connected_at IS NOT NULL AND {r}wait_seconds IS NOT NULL)"


def _censored(r: str) -> str:
    return f"({r}mode = 'on_demand' AND {r}outcome = 'unfilled' AND {r}wait_seconds IS NOT NULL)"


def contributions(r: str) -> dict[str, str]:
    """SQL for what the ledger row `r` (a prefix: 'NEW.', 'OLD.' or '') adds to each sum of its cell.

    The definitions are docs/reports.md's, the same as `broker.report.service.SUMS`.
    """
    on_demand = f"{r}mode = 'on_demand'"
    return {
        "requests": "1",
        "demand": _flag(f"NOT ({r}mode = 'booked' AND {r}outcome = 'cancelled')"),
        "sessions": _flag(f"{r}connected_at IS NOT NULL"),
        "talk_seconds": f"COALESCE({r}talk_seconds, 0)",
        "requests_on_demand": _flag(on_demand),
        "sessions_on_demand": _flag(f"{on_demand} AND {r}connected_at IS NOT NULL"),
        "unmet": _flag(f"{r}outcome IN ('unfilled', 'no_interpreter') OR ({r}outcome = 'cancelled' AND {on_demand})"),
        "no_shows": _flag(f"{r}outcome = 'no_show'"),
        "late_cancellations": _flag(f"{r}late_cancellation"),
        "ratings": _flag(f"{r}rating IS NOT NULL"),
        "rating_sum": f"COALESCE({r}rating, 0)",
        "with_problems": _flag(f"{r}problems IS NOT NULL AND {r}problems <> ''"),
        "waits_measured": _flag(_measured(r)),
        "waits_censored": _flag(_censored(r)),
    }


def wait_text(r: str) -> str:
    """The row's counted wait (measured or censored) as text, else NULL."""
    return f"CASE WHEN {_measured(r)} OR {_censored(r)} THEN CAST({r}wait_seconds AS TEXT) END"


def _upsert(r: str, tier: Tier) -> str:
    table = tier.table
    values = tier.key_values(r) + list(contributions(r).values()) + [wait_text(r)]
    updates = [f"{name} = {table}.{name} + excluded.{name}" for name in SUM_COLUMNS]
    updates.append(
        f"waits = CASE WHEN excluded.waits IS NULL THEN {table}.waits WHEN {table}.waits IS NULL THEN excluded.waits "
        f"ELSE {table}.waits || ',' || excluded.waits END"
    )
    return (
        f"INSERT INTO {table} ({', '.join((*tier.keys, *SUM_COLUMNS, 'waits'))}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({', '.join(tier.keys)}) DO UPDATE SET {', '.join(updates)}"
    )


def _subtract(r: str, dialect: str, tier: Tier) -> list[str]:
    """Take row `r` out of its cell: sums down, its wait out of the list once, an emptied cell deleted."""
    table = tier.table
    find, trim = ("instr", "trim") if dialect == "sqlite" else ("strpos", "btrim")
    wait = wait_text(r)
    framed = f"(',' || {table}.waits || ',')"
    at = f"{find}({framed}, ',' || {wait} || ',')"
    removed = f"NULLIF({trim}(substr({framed}, 1, {at}) || substr({framed}, {at} + length({wait}) + 2), ','), '')"
    updates = [f"{name} = {table}.{name} - ({expr})" for name, expr in contributions(r).items()]
    updates.append(f"waits = CASE WHEN {wait} IS NULL THEN {table}.waits ELSE {removed} END")
    cell = " AND ".join(f"{key} = {value}" for key, value in zip(tier.keys, tier.key_values(r), strict=True))
    return [
        f"UPDATE {table} SET {', '.join(updates)} WHERE {cell}",
        f"DELETE FROM {table} WHERE {cell} AND requests = 0",
    ]


def trigger_ddl(dialect: str, tiers: Sequence[Tier] = TIERS) -> list[str]:
    """Statements that create the triggers keeping the roll-up tables `tiers` equal to the ledger.

    Migrations name their tiers explicitly: 0007 made the triggers for months only.
    """
    inserts = [_upsert("NEW.", tier) for tier in tiers]
    deletes = [statement for tier in tiers for statement in _subtract("OLD.", dialect, tier)]
    if dialect == "sqlite":
        def body(*statements: str) -> str:
            return "BEGIN " + " ".join(f"{s};" for s in statements) + " END"

        return [
            f"CREATE TRIGGER usage_rollup_insert AFTER INSERT ON usage_ledger {body(*inserts)}",
            f"CREATE TRIGGER usage_rollup_delete AFTER DELETE ON usage_ledger {body(*deletes)}",
            f"CREATE TRIGGER usage_rollup_update AFTER UPDATE ON usage_ledger {body(*deletes, *inserts)}",
        ]
    return [
        "CREATE FUNCTION usage_rollup_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {' '.join(f'{s};' for s in deletes)} END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {' '.join(f'{s};' for s in inserts)} END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER usage_rollup_sync AFTER INSERT OR UPDATE OR DELETE ON usage_ledger "
        "FOR EACH ROW EXECUTE FUNCTION usage_rollup_apply()",
    ]


def drop_trigger_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS usage_rollup_{op}" for op in ("insert", "delete", "update")]
    return [
        "DROP TRIGGER IF EXISTS usage_rollup_sync ON usage_ledger",
        "DROP FUNCTION IF EXISTS usage_rollup_apply()",
    ]


def fill_sql(dialect: str, *, bounded: bool, tier: Tier = MONTH) -> str:
    """INSERT … SELECT of the tier's cells of the ledger rows (optionally those in [:start, :end))."""
    concat = "group_concat" if dialect == "sqlite" else "string_agg"
    sums = [f"SUM({expr})" for expr in contributions("").values()]
    where = " WHERE requested_at >= :start AND requested_at < :end" if bounded else ""
    keys = tier.key_values("")
    return (
        f"INSERT INTO {tier.table} ({', '.join((*tier.keys, *SUM_COLUMNS, 'waits'))}) "
        f"SELECT {', '.join(keys)}, {', '.join(sums)}, {concat}({wait_text('')}, ',') "
        f"FROM usage_ledger{where} GROUP BY {', '.join(keys)}"
    )


async def rebuild(*, db: AsyncSession, progress: Callable[[int, int, int], None] | None = None) -> int:
    """Recompute both tiers from the ledger, one local year at a time; returns the number of month cells.

    For a database whose roll-up is missing or suspect. Runs in the caller's transaction (which
    commits); on PostgreSQL the ledger is locked against writers meanwhile (SHARE mode: reports
    go on), SQLite writers wait for the write lock anyway. `progress(year, cells, ledger_rows)`
    after each year.
    """
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        await db.execute(text("LOCK TABLE usage_ledger IN SHARE MODE"))
    for tier in TIERS:
        await db.execute(text(f"DELETE FROM {tier.table}"))
    first, last = (await db.execute(select(func.min(LedgerEntry.requested_at),
                                           func.max(LedgerEntry.requested_at)))).one()
    if first is None:
        return 0
    fills = [
        text(fill_sql(dialect, bounded=True, tier=tier)).bindparams(
            bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))
        for tier in TIERS
    ]
    first_year, last_year = int(local_keys(first)[0][:4]), int(local_keys(last)[0][:4])
    cells = 0
    for year in range(first_year, last_year + 1):
        start, end = _local_new_year(year), _local_new_year(year + 1)
        for fill in fills:
            await db.execute(fill, {"start": start, "end": end})
        rows, added = (await db.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.requested_at >= start,
                                                                  LedgerEntry.requested_at < end)
        )).scalar_one(), (await db.execute(
            text(f"SELECT count(*) FROM {TABLE} WHERE local_month >= :a AND local_month <= :b"),
            {"a": f"{year:04d}-01", "b": f"{year:04d}-12"},
        )).scalar_one()
        cells += added
        if progress is not None:
            progress(year, added, rows)
    await db.flush()
    return cells


def _local_new_year(year: int) -> datetime:
    """The UTC instant at which local (Thuringian) year `year` begins."""
    return datetime(year, 1, 1, tzinfo=LOCAL_TZ).astimezone(UTC)
