"""Property-based API test from the app's own OpenAPI schema (schemathesis).

For every operation, generated valid and invalid requests must never cause a 5xx, every
status code must be declared, and every response must match its declared schema.
`positive_data_acceptance` is left out on purpose: schema-valid input is rightly refused
when it names an object that does not exist (404) or breaks a domain rule (409, or 422 with a
message), which no OpenAPI schema can express.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import positive_data_acceptance

from broker.app import create_app
from broker.config import Environment, Settings
from broker.database import make_engine, make_sessionmaker
from broker.migrate import upgrade
from tests.conftest import build_world, free_port, truncate_all

ADMIN_HEADERS: dict[str, str] = {}
# Report endpoints run in spawned processes; on a machine running two suites at once one call
# can take longer than the 10 s default, and a first call that times out makes Hypothesis
# report the operation as flaky.
REQUEST_TIMEOUT_S = 120


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def api_base_url(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        db_path: Path = tmp_path_factory.mktemp("schemathesis") / "api.db"
        url = f"sqlite+aiosqlite:///{db_path}"
    else:  # PostgreSQL refuses NUL in text, where SQLite stores it: the run must see both
        url = str(request.getfixturevalue("pg_url"))
    app_settings = Settings(environment=Environment.TEST, database_url=url,
                            secret_key="schemathesis-secret-key-long-enough-000000",
                            login_account_free_attempts=1000, login_source_free_attempts=1000, scheduler_enabled=False,
                            # Hypothesis replays a failing case to confirm it: a background sender that
                            # changes outbox rows between the calls would make every replay differ.
                            outbox_sender_enabled=False)
    if request.param == "sqlite":
        upgrade(app_settings)

    async def seed() -> None:
        engine = make_engine(app_settings)
        await truncate_all(engine)
        async with make_sessionmaker(engine)() as db:
            world = await build_world(db)
        await engine.dispose()
        ADMIN_HEADERS.update(world.auth("admin"))

    asyncio.run(seed())
    port = free_port()
    app = create_app(app_settings)
    app.openapi()  # built once and cached: the ~1.5 s of CPU is not spent inside the schema request
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # A polled condition: started, or the thread died; a start can take long on a loaded machine.
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, f"uvicorn did not start (its thread {'runs' if thread.is_alive() else 'died'})"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(api_base_url: str) -> schemathesis.BaseSchema:
    # Schemathesis waits 10 s for the schema by default; a CI run beside browser tests once took longer.
    return schemathesis.openapi.from_url(f"{api_base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S).exclude(
        path="/api/auth/logout"  # would sign the fuzzer itself out
    )


EXTREME_DATE_TIMES = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00")
ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _hostile_variants(value: Any) -> Iterator[Any]:
    """Copies of a JSON value with exactly one string changed: NUL inserted, or a date-time made extreme."""
    if isinstance(value, str):
        if ISO_DATE_TIME.match(value):
            yield from EXTREME_DATE_TIMES
        yield value[:1] + "\x00" + value[1:]
    elif isinstance(value, dict):
        for key, item in value.items():
            for variant in _hostile_variants(item):
                yield {**value, key: variant}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for variant in _hostile_variants(item):
                yield [*value[:index], variant, *value[index + 1:]]


def _describe(exc: BaseException) -> str:
    """The failure with its sub-exceptions (a flaky-replay report hides the first call's failure in them)."""
    parts = [str(exc)]
    if isinstance(exc, BaseExceptionGroup):
        parts += [f"  - {type(sub).__name__}: {_describe(sub)}" for sub in exc.exceptions]
    return "\n".join(parts)


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    operations = []
    for result in api_schema.get_all_operations():
        operations.append(result.ok())
    assert len(operations) > 10
    return operations


# Each test walks every operation (25 examples each): about 4 minutes on a machine running two
# suites at once. pytest-timeout's default (180 s) would raise inside a Hypothesis example, which
# Hypothesis then reports as a flaky operation instead of a timeout.
SUITE_TIMEOUT = pytest.mark.timeout(1200)


@SUITE_TIMEOUT
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
def test_api_conforms_to_its_schema(api_schema: schemathesis.BaseSchema, api_base_url: str,
                                    mode: schemathesis.GenerationMode) -> None:
    """No generated request causes a 5xx; statuses are declared; bodies match their schemas."""
    failures: list[str] = []
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=api_base_url, headers=ADMIN_HEADERS, timeout=REQUEST_TIMEOUT_S,
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body): the valid run covers the operation.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup;
            # collect all operations' failures, then report them together
            failures.append(f"{operation.label}: {_describe(exc)[:3000]}")
    assert not failures, "\n\n".join(failures)


@SUITE_TIMEOUT
def test_nul_bytes_and_extreme_date_times_never_cause_a_server_error(
    api_schema: schemathesis.BaseSchema, api_base_url: str
) -> None:
    """From valid generated requests, each string in turn gets a NUL byte (date-times: year 9999 or 1 at
    ±14 h): every such request is answered with a 4xx or a success, never a 5xx, on both databases."""
    failures: list[str] = []
    for operation in _operations(api_schema):

        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
        @settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            for part in ("body", "query"):
                original = getattr(case, part)
                if not original or not isinstance(original, dict | list):
                    continue
                for variant in _hostile_variants(original):
                    setattr(case, part, variant)
                    response = case.call(base_url=api_base_url, headers=ADMIN_HEADERS, timeout=REQUEST_TIMEOUT_S)
                    assert response.status_code < 500, f"{part}={variant!r}: {response.status_code}"
                setattr(case, part, original)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
