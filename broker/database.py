"""Engine, session factory and the declarative base shared by every area's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, MetaData, Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from broker.config import Settings
from broker.live.unit import Outlet, session_options

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(model: type[Any]) -> Table:
    """A mapped class's Table, typed for Core statements (the hot paths skip the ORM flush)."""
    return cast(Table, model.__table__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(settings: Settings, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """The engine for `settings`; `read_only` (reports in a worker) never takes SQLite's write lock."""
    url = settings.database_url
    if settings.is_sqlite:
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Every transaction takes the write lock at BEGIN, so connections never run side by
        # side anyway; one pooled connection makes waiters queue FIFO in asyncio instead of
        # in SQLite's busy handler, which sleeps in growing steps (up to 100 ms) per retry.
        if path is not None:
            kwargs.setdefault("pool_size", 1)
            kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(
            url, echo=settings.database_echo, connect_args={"timeout": 30}, **kwargs
        )
        _configure_sqlite(engine, read_only=read_only)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # Client-side limits (asyncpg), so they hold in a network partition too, where the server
    # never answers: connecting, every statement (and the pre-ping) and waiting for a pooled
    # connection each give up after a few seconds; the app answers 503 (broker/errors.py).
    kwargs.setdefault("pool_timeout", settings.database_pool_timeout_seconds)
    connect_args = {"timeout": settings.database_connect_timeout_seconds,
                    "command_timeout": settings.database_statement_timeout_seconds,
                    **kwargs.pop("connect_args", {})}
    return create_async_engine(url, echo=settings.database_echo, pool_pre_ping=True,
                               connect_args=connect_args, **kwargs)


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool = False) -> None:
    """WAL, foreign keys and BEGIN IMMEDIATE (a plain BEGIN and query_only when `read_only`).

    A deferred SQLite transaction that reads and then writes fails at once with
    SQLITE_BUSY when another connection committed in between (busy_timeout does not
    help there). Taking the write lock at BEGIN serialises writers cleanly, which is
    what makes conditional UPDATEs race-safe on the embedded backend. A reader that never
    writes needs no lock: in WAL mode it reads its snapshot beside the writers.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine, outlet: Outlet | None = None) -> async_sessionmaker[AsyncSession]:
    """Live sessions (`broker.live.unit`): their commit publishes to `outlet` what they recorded."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, **session_options(outlet))
