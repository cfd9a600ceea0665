"""Property-based API test from the app's own OpenAPI schema (schemathesis).

For every operation, generated valid and invalid requests must never cause a 5xx, every
status code must be declared, and every response must match its declared schema.
`positive_data_acceptance` is left out on purpose: schema-valid input is rightly refused
when it names an object that does not exist (404) or breaks a domain rule (409, or 422 with a
message), which no OpenAPI schema can express.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
from tests.conftest import build_world, free_port

ADMIN_HEADERS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db_path: Path = tmp_path_factory.mktemp("schemathesis") / "api.db"
    app_settings = Settings(environment=Environment.TEST, database_url=f"sqlite+aiosqlite:///{db_path}",
                            secret_key="schemathesis-secret-key-long-enough-000000",
                            login_account_free_attempts=1000, login_source_free_attempts=1000, scheduler_enabled=False)
    upgrade(app_settings)

    async def seed() -> None:
        engine = make_engine(app_settings)
        async with make_sessionmaker(engine)() as db:
            world = await build_world(db)
        await engine.dispose()
        ADMIN_HEADERS.update(world.auth("admin"))

    asyncio.run(seed())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(app_settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(api_base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_base_url}/openapi.json").exclude(
        path="/api/auth/logout"  # would sign the fuzzer itself out
    )


def _operations(api_schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    operations = []
    for result in api_schema.get_all_operations():
        operations.append(result.ok())
    assert len(operations) > 10
    return operations


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
            case.call_and_validate(base_url=api_base_url, headers=ADMIN_HEADERS,
                                   excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body): the valid run covers the operation.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup;
            # collect all operations' failures, then report them together
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
