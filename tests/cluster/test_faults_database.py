"""A real `videodolmetschen serve` on PostgreSQL, with the database cut off through the test's
own TCP proxy: refused and partitioned, the app answers 503 `database_unavailable` fast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.cluster.conftest import Instance, instance_env
from tests.cluster.proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LOGIN = {"username": "nobody-here", "password": "irrelevant-password"}


@pytest.fixture
async def db_proxy(cluster_pg_url: str) -> AsyncIterator[TcpProxy]:
    url = make_url(cluster_pg_url)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield proxy
    await proxy.stop()


def _through(proxy: TcpProxy, db_url: str) -> str:
    return make_url(db_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


async def _wait_healthy(inst: Instance, http: httpx.AsyncClient, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert inst.proc is not None and inst.proc.poll() is None, inst.tail()
        try:
            if (await http.get(f"{inst.url}/healthz", timeout=1)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{inst.name} did not become healthy:\n{inst.tail()}")


def _is_database_unavailable(response: httpx.Response) -> bool:
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    return (response.status_code == 503 and body.get("code") == "database_unavailable"
            and bool(body.get("detail")) and int(response.headers.get("retry-after", "0")) > 0)


async def test_database_refused_or_partitioned_gives_503_fast_and_healthz_within_a_second(
    cluster_pg_url: str, db_proxy: TcpProxy, instances: list[Instance], tmp_path: Path,
) -> None:
    """Refused: a route answers 503 {detail, code: database_unavailable} with Retry-After, not a
    plain-text 500. Partitioned (packets vanish): /healthz still answers 503 `database: timeout` after
    its 0.8 s check and a route answers 503 within the connect + statement timeouts, not after 30 s;
    both recover afterwards."""
    env = instance_env(database_url=_through(db_proxy, cluster_pg_url), redis_url="",
                       VD_SCHEDULER_ENABLED="false", VD_DATABASE_CONNECT_TIMEOUT_SECONDS="1",
                       VD_DATABASE_STATEMENT_TIMEOUT_SECONDS="2", VD_DATABASE_POOL_TIMEOUT_SECONDS="1")
    inst = Instance("db", env, tmp_path).start()
    instances.append(inst)
    async with httpx.AsyncClient(timeout=30) as http:
        await _wait_healthy(inst, http)
        assert (await http.post(f"{inst.url}/api/auth/login", json=LOGIN)).status_code == 401

        db_proxy.set_mode("refuse")
        refused = await http.post(f"{inst.url}/api/auth/login", json=LOGIN)
        assert _is_database_unavailable(refused), (refused.status_code, refused.text)
        assert (await http.get(f"{inst.url}/healthz")).status_code == 503

        db_proxy.set_mode("blackhole")
        started = time.monotonic()
        health = await http.get(f"{inst.url}/healthz")
        # 0.8 s health timeout plus room for a loaded machine; without it the check would hang for
        # the connect (3 s) or statement (15 s) timeout.
        assert health.status_code == 503 and time.monotonic() - started < 2.0, health.text
        assert health.json()["database"] == "timeout", health.text
        started = time.monotonic()
        hung = await http.post(f"{inst.url}/api/auth/login", json=LOGIN)
        elapsed = time.monotonic() - started
        assert _is_database_unavailable(hung), (hung.status_code, hung.text)
        assert elapsed < 6.0, f"a route waited {elapsed:.1f}s on a partitioned database"

        db_proxy.set_mode("pass")
        await _wait_healthy(inst, http, timeout=15)
        assert (await http.post(f"{inst.url}/api/auth/login", json=LOGIN)).status_code == 401
