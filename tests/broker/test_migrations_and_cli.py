"""Migrations from empty on both databases, idempotent demo seeding, the CLI."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import broker.models  # noqa: F401
from broker.config import Settings
from broker.database import Base, make_engine, make_sessionmaker
from broker.demo.seed import seed
from broker.interpreter.models import AvailabilityWindow, InterpreterLanguage
from broker.language.models import Language
from broker.migrate import downgrade, upgrade
from broker.office.models import Office
from broker.user.models import User
from tests.conftest import PG_URL, drop_database, pg_admin, require_or_skip

CLI = [sys.executable, "-m", "broker.cli"]


def _fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    require_or_skip(bool(PG_URL), "PostgreSQL (VD_TEST_DATABASE_URL_PG)")
    base, _, _ = PG_URL.rpartition("/")
    # A name of this process's own: two suites at once must not drop each other's database.
    return f"{base}/videodolmetschen_migrations_{os.getpid()}"


async def _recreate_pg_database(url: str) -> None:
    _, _, name = url.rpartition("/")
    await drop_database(name)
    await pg_admin(f"CREATE DATABASE {name}")
    # btree_gist is trusted since PostgreSQL 13; the database owner may create it.
    await pg_admin("CREATE EXTENSION IF NOT EXISTS btree_gist", url=url)


def _diff(engine_sync_conn) -> list:  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(engine_sync_conn, opts={"compare_type": True})
    return [d for d in compare_metadata(context, Base.metadata)
            # the PostgreSQL exclusion constraint lives only in migration 0002
            if "ex_requests_no_double_booking" not in repr(d)]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_migrations_run_from_empty_and_match_the_models(backend: str, tmp_path: Path) -> None:
    """Upgrade from an empty database, down to base and up again; the schema equals the models."""
    url = _fresh_url(backend, tmp_path)
    if backend == "postgresql":
        asyncio.run(_recreate_pg_database(url))
    settings = Settings(database_url=url)
    upgrade(settings)
    downgrade(settings, "base")
    upgrade(settings)

    async def check() -> list:  # type: ignore[type-arg]
        engine = make_engine(settings)
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            if backend == "postgresql":
                names = (await conn.execute(text(
                    "SELECT conname FROM pg_constraint WHERE conname = 'ex_requests_no_double_booking'"))).all()
                assert names, "the double-booking exclusion constraint is missing"
        await engine.dispose()
        return diff

    try:
        assert asyncio.run(check()) == []
    finally:
        if backend == "postgresql":
            asyncio.run(drop_database(url.rpartition("/")[2]))


@pytest.mark.postgres
def test_the_postgres_setup_lets_the_test_role_drop_a_database_an_autovacuum_worker_is_in() -> None:
    """Tests drop their databases WITH (FORCE). An autovacuum worker still inside one is not the
    test role's process, and PostgreSQL ends it for us only with pg_signal_backend: CI failed once on exactly that.
    `scripts/ensure-postgres.sh` grants it; this holds the set-up to that."""
    require_or_skip(bool(PG_URL), "PostgreSQL (VD_TEST_DATABASE_URL_PG)")

    async def granted() -> bool:
        engine = make_engine(Settings(database_url=PG_URL))
        try:
            async with engine.connect() as conn:
                return bool(await conn.scalar(text("SELECT pg_has_role(current_user, 'pg_signal_backend', 'USAGE')")))
        finally:
            await engine.dispose()

    assert asyncio.run(granted()), "run scripts/ensure-postgres.sh: the test role lacks pg_signal_backend"


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with make_sessionmaker(engine)() as db:
        return {
            model.__tablename__: int(await db.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, Office, Language, InterpreterLanguage, AvailabilityWindow)
        }


async def test_demo_seeding_twice_gives_the_same_data(engine: AsyncEngine) -> None:
    """Seeding is idempotent: the second run adds nothing and changes nothing."""
    async with make_sessionmaker(engine)() as db:
        summary = await seed(db)
        await db.commit()
    first = await _counts(engine)
    async with make_sessionmaker(engine)() as db:
        await seed(db)
        await db.commit()
    assert await _counts(engine) == first
    assert summary.offices == 45 and first["users"] == 45 * 2 + 60 + 2
    async with make_sessionmaker(engine)() as db:
        spoken = set((await db.execute(select(InterpreterLanguage.language_code))).scalars())
        assert "gsg" in spoken and len(spoken) >= 30
        districts = set((await db.execute(select(Office.district_ags))).scalars())
        assert len(districts) == 22


def _run_cli(args: list[str], url: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VD_DATABASE_URL": url}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


def test_cli_upgrade_demo_and_user_add(tmp_path: Path) -> None:
    """`db upgrade`, `demo` and `user add` work from the command line with clear errors; `user add`
    refuses short and common passwords and ones containing the user name, each with a plain
    English message (the server's messages are English; only the pages translate them by code)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert _run_cli(["db", "upgrade"], url).returncode == 0
    demo = _run_cli(["demo", "--no-history"], url)
    assert demo.returncode == 0, demo.stderr
    assert "demo-passwort" in demo.stdout and "sb-erfurt-abh-1" in demo.stdout
    assert "Migrating database" in demo.stdout and "ledger rows generated" not in demo.stdout
    # Which interpreter speaks which language, so a first call can be tried at once.
    assert re.search(r"Arabisch \(ar\)\s+dolmetscher\d\d", demo.stdout), demo.stdout
    added = _run_cli(["user", "add", "neue.managerin", "--role", "manager", "--password", "long-enough-pw"], url)
    assert added.returncode == 0, added.stderr
    again = _run_cli(["user", "add", "neue.managerin", "--role", "manager", "--password", "long-enough-pw"], url)
    assert again.returncode == 1 and "already taken" in again.stderr
    short = _run_cli(["user", "add", "kurz", "--role", "manager", "--password", "short"], url)
    assert short.returncode == 2 and "password" in short.stderr
    common = _run_cli(["user", "add", "gewoehnlich", "--role", "manager", "--password", "Password2024!"], url)
    assert common.returncode == 2 and "too common" in common.stderr
    own_name = _run_cli(["user", "add", "mustermann", "--role", "manager", "--password", "mustermann-geheim"], url)
    assert own_name.returncode == 2 and "user name" in own_name.stderr


def test_production_refuses_the_default_secret() -> None:
    """Outside development the default secret key is refused with a message saying what to do."""
    with pytest.raises(ValueError, match="VD_SECRET_KEY"):
        Settings(environment="production")
    Settings(environment="production", secret_key="x" * 40)
