"""Shared fixtures: both database backends, the real app, a small world of users and offices.

Every database test runs on SQLite and on PostgreSQL (the `backend` parameter). The schema
comes from the real Alembic migrations, once per test session; each test starts from empty
tables (truncated after use), so tests that commit — races, real servers — work too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import broker.models  # noqa: F401
from broker.app import create_app, server_config
from broker.auth import service as auth_service
from broker.auth.security import hash_password
from broker.config import Environment, Settings
from broker.database import Base, make_engine, make_sessionmaker
from broker.enums import OfficeKind, Qualification, Role
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.language.models import Language, Purpose
from broker.migrate import upgrade
from broker.office.models import District, Office
from broker.user.models import User

IN_CI = bool(os.environ.get("CI"))
# httpx gives up after 5 s by default; two suites at once on two cores made a login (argon2) or a
# report take longer. Tests that measure a latency assert it themselves.
LOADED_MACHINE_TIMEOUT = 60.0
PG_URL = os.environ.get("VD_TEST_DATABASE_URL_PG", "")
PASSWORD = "correct-horse-battery"
_PASSWORD_HASH = hash_password(PASSWORD)


def require_or_skip(available: bool, what: str) -> None:
    """Skip loudly when a real part is missing locally; in CI a missing part is a failure."""
    if available:
        return
    message = f"{what} is not available — this test did NOT run. `make test` provides it."
    if IN_CI:
        pytest.fail(f"{message} (CI is set, so this is an error)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(Settings(database_url=url))
    return url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated from empty, dropped after.

    One database per session (not the shared one) so concurrent test runs cannot disturb
    each other.
    """
    require_or_skip(bool(PG_URL), "PostgreSQL (VD_TEST_DATABASE_URL_PG)")
    base, _, _ = PG_URL.rpartition("/")
    name = f"vd_test_{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = f"{base}/{name}"

    for stale in asyncio.run(_test_databases_of_dead_runs()):
        with contextlib.suppress(Exception):  # another worker of this run may be dropping it too
            asyncio.run(drop_database(stale))
    asyncio.run(drop_database(name))
    asyncio.run(pg_admin(f"CREATE DATABASE {name}"))
    upgrade(Settings(database_url=url))
    yield url
    asyncio.run(drop_database(name))


async def _test_databases_of_dead_runs() -> list[str]:
    """`vd_test_<pid>_<worker>` databases whose test process is gone (a run that was killed never
    dropped its own); a live pid may be another suite running beside this one, so it is kept."""
    engine = make_engine(Settings(database_url=PG_URL))
    try:
        async with engine.connect() as conn:
            found = await conn.execute(text(r"SELECT datname FROM pg_database WHERE datname LIKE 'vd\_test\_%'"))
            names = found.scalars()
            return [name for name in names if (pid := name.split("_")[2]).isdigit() and not _alive(int(pid))]
    finally:
        await engine.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


async def pg_admin(*statements: str, url: str = PG_URL) -> None:
    """Run DDL such as CREATE DATABASE outside a transaction, without the app's 15 s statement limit:
    on a loaded CI machine creating or dropping a database can take longer (a checkpoint)."""
    engine = make_engine(Settings(database_url=url), isolation_level="AUTOCOMMIT",
                         connect_args={"command_timeout": None})
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


# Errors PostgreSQL gives a forced drop while a process it may not end is connected: an autovacuum
# worker after a test's churn is not a process of the test role. The set-up script grants
# the test role pg_signal_backend for that; a retry covers a server set up without it.
_DROP_RETRY_ERRORS = (
    "must be a member of the role", "must be a superuser to terminate", "being accessed by other users",
)


async def drop_database(name: str, url: str = PG_URL, timeout: float = 60) -> None:
    """`DROP DATABASE IF EXISTS name WITH (FORCE)`, retried until nothing connected stands in the way."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', url=url)
            return
        except Exception as error:
            if not any(reason in str(error) for reason in _DROP_RETRY_ERRORS) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    fixture = "sqlite_url" if backend == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        login_account_free_attempts=5,
        scheduler_enabled=False,
        # Two suites at once on two cores can hold `SELECT 1` back for a second; /healthz's timeout
        # answer has its own test (tests/broker/test_admin_api.py) and the fault tests run the default.
        health_database_timeout_seconds=10.0,
    )


async def truncate_all(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            existing = (await conn.execute(text("SELECT to_regclass('apscheduler_jobs')"))).scalar()
            if existing:
                await conn.execute(text("TRUNCATE apscheduler_jobs"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
            names = (await conn.execute(text("SELECT name FROM sqlite_master WHERE name='apscheduler_jobs'")))
            if names.first():
                await conn.execute(text("DELETE FROM apscheduler_jobs"))


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings)
    await truncate_all(engine)
    yield engine
    await truncate_all(engine)
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def db(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@dataclass
class World:
    """A small fixed world: two offices in two districts, one user per role, bearer headers."""

    office_a: Office
    office_b: Office
    users: dict[str, User] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def auth(self, name: str) -> dict[str, str]:
        return self.headers[name]


async def add_user(
    db: AsyncSession, username: str, role: Role, *, office: Office | None = None,
    languages: dict[str, Qualification] | None = None,
) -> User:
    user = User(username=username, display_name=username.title(), role=role,
                office_id=office.id if office else None, password_hash=_PASSWORD_HASH)
    db.add(user)
    await db.flush()
    if role is Role.INTERPRETER:
        db.add(InterpreterProfile(user_id=user.id))
        await db.flush()
        for code, qualification in (languages or {}).items():
            db.add(InterpreterLanguage(interpreter_id=user.id, language_code=code, qualification=qualification))
        await db.flush()
    return user


async def build_world(db: AsyncSession) -> World:
    db.add_all([
        District(ags="16051", name="Erfurt", kind="kreisfreie Stadt"),
        District(ags="16053", name="Jena", kind="kreisfreie Stadt"),
        Language(code="ar", name_de="Arabisch", name_en="Arabic", name_native="العربية", rtl=True),
        Language(code="uk", name_de="Ukrainisch", name_en="Ukrainian", name_native="Українська"),
        Language(code="fa", name_de="Persisch", name_en="Persian", name_native="فارسی", rtl=True),
        Language(code="gsg", name_de="Deutsche Gebärdensprache (DGS)", name_en="German Sign Language (DGS)",
                 name_native="Deutsche Gebärdensprache", sign_language=True),
        Purpose(code="residence_permit", name_de="Aufenthaltstitel", name_en="Residence permit", sort_order=1),
        Purpose(code="other", name_de="Sonstiges", name_en="Other", sort_order=9),
    ])
    await db.flush()
    office_a = Office(name="Ausländerbehörde Erfurt", kind=OfficeKind.IMMIGRATION_OFFICE, district_ags="16051")
    office_b = Office(name="Jobcenter Jena", kind=OfficeKind.JOB_CENTRE, district_ags="16053")
    db.add_all([office_a, office_b])
    await db.flush()
    world = World(office_a=office_a, office_b=office_b)
    specs: list[tuple[str, Role, Office | None]] = [
        ("admin", Role.ADMIN, None),
        ("manager", Role.MANAGER, None),
        ("caseworker_a", Role.CASEWORKER, office_a),
        ("caseworker_b", Role.CASEWORKER, office_b),
    ]
    for username, role, office in specs:
        world.users[username] = await add_user(db, username, role, office=office)
    world.users["interpreter"] = await add_user(
        db, "interpreter", Role.INTERPRETER, languages={"ar": Qualification.CERTIFIED, "fa": Qualification.TRAINED}
    )
    for name, user in world.users.items():
        token = await auth_service.start_session(db=db, user=user, kind="bearer", hours=1)
        world.headers[name] = {"Authorization": f"Bearer {token}"}
    await db.commit()
    return world


@pytest.fixture
async def world(db: AsyncSession) -> World:
    return await build_world(db)


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class LiveServer:
    url: str
    ws_url: str
    app: FastAPI


class _TestServer(uvicorn.Server):
    """uvicorn in the test's loop; says so when a process signal reaches it.

    uvicorn takes SIGINT and SIGTERM while it serves and stops gracefully on them, so a stray
    signal shows up in a test only as a socket that no longer answers (a CI run once saw a
    WebSocket handshake time out, and a swallowed KeyboardInterrupt in the same worker)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        logging.getLogger("tests.serve").error("the test server on %s received %s from outside the test",
                                               self.config.port, signal.Signals(sig).name)
        super().handle_exit(sig, frame)


@asynccontextmanager
async def serve_app(settings: Settings, port: int) -> AsyncIterator[LiveServer]:
    """The real app on loopback `port`, served as `videodolmetschen serve` serves it (the product's
    uvicorn config), in the caller's event loop, until the block ends.

    The origin is the server's own, so cookies, CORS and links behave as in production; a test
    that restarts the server passes the same port again so links keep their origin."""
    origin = f"http://127.0.0.1:{port}"
    application = create_app(settings.model_copy(update={"allowed_origins": [origin], "public_base_url": origin}))
    server = _TestServer(server_config(application, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60  # polled condition: started, or the task died (minutes on a loaded machine)
    while not (server.started or task.done()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(url=origin, ws_url=f"ws://127.0.0.1:{port}", app=application)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def live_server(settings: Settings, engine: AsyncEngine) -> AsyncIterator[LiveServer]:
    """The real app under uvicorn on a free loopback port, in the test's event loop."""
    async with serve_app(settings, free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def artifacts_dir() -> Iterator[Path]:
    path = Path(os.environ.get("VD_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    yield path


async def db_snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table except the audit log of logins: to assert 'nothing changed'."""
    snapshot: dict[str, list[tuple[object, ...]]] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in ("auth_sessions",):
                continue
            rows = (await conn.execute(table.select())).all()
            snapshot[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


@pytest.fixture
def unchanged(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """`async with unchanged(): ...` fails if the block changed any row in the database."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def guard() -> AsyncIterator[None]:
        before = await db_snapshot(engine)
        yield
        after = await db_snapshot(engine)
        changed = [name for name in before if before[name] != after[name]]
        assert not changed, f"rejected request changed tables: {changed}"

    return guard


FAILED = pytest.StashKey[bool]()  # set on a test whose call failed, for fixtures that keep evidence


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[object]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report
