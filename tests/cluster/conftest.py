"""Real parts for the multi-instance tests: redis-server children, a dedicated PostgreSQL
database, in-process cluster hubs and `videodolmetschen serve` subprocesses.

Missing Redis or PostgreSQL skips loudly locally and fails in CI (`require_or_skip`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from broker.config import Settings
from broker.migrate import upgrade
from signaling.cluster import ClusterHub
from signaling.redis_backplane import RedisBackplane
from tests.conftest import PG_URL, free_port, pg_admin, require_or_skip
from tests.conftest import drop_database as drop_named_database
from tests.signaling.conftest import Server, authenticate, make_settings, serve_hub

SECRET = "cluster-test-secret-key-0123456789abcdefghij"
VENV_BIN = Path(sys.executable).parent


class RedisServer:
    """A redis-server child process on a free loopback port; can be stopped and restarted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                answer = self._server_info()
            except OSError:
                time.sleep(0.05)
                continue
            # The port is free_port()'s guess: with two suites on one machine another test's
            # redis-server may hold it, and answering is not enough; it must be ours.
            if f"process_id:{self.proc.pid}\r".encode() in answer:
                return
            raise RuntimeError(f"port {self.port} answers, but from another redis-server")
        raise RuntimeError("redis-server did not start")

    def _server_info(self) -> bytes:
        """The `INFO server` answer of whoever listens on the port, read up to its process id."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
            sock.sendall(b"INFO server\r\n")
            answer = b""
            while b"process_id:" not in answer or not answer.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return answer

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def _redis_available() -> bool:
    return shutil.which("redis-server") is not None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    require_or_skip(_redis_available(), "redis-server (Debian package redis-server)")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def create_database(pg_url: str) -> str:
    """A fresh, migrated PostgreSQL database next to `pg_url`'s; returns its URL."""
    name = f"vd_cluster_{secrets.token_hex(4)}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"', url=pg_url))
    db_url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    upgrade(Settings(_env_file=None, database_url=db_url))
    return db_url


def drop_database(db_url: str) -> None:
    name = make_url(db_url).database
    maintenance = make_url(db_url).set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(drop_named_database(str(name), url=maintenance))


@pytest.fixture
def cluster_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, migrated, dropped afterwards."""
    require_or_skip(bool(PG_URL), "PostgreSQL (VD_TEST_DATABASE_URL_PG)")
    db_url = create_database(PG_URL)
    try:
        yield db_url
    finally:
        drop_database(db_url)


# --- in-process: two ClusterHubs behind two uvicorn servers -------------------------------

@asynccontextmanager
async def cluster_server(redis_url: str, **settings: Any) -> AsyncIterator[Server]:
    """The signalling router with a ClusterHub over Redis, on a free loopback port."""
    hub = ClusterHub(settings=make_settings(**settings), backplane=RedisBackplane(redis_url, watch_seconds=0.2),
                     authenticate=authenticate)
    async with serve_hub(hub, ws_max_size=16 * 1024 * 1024) as server:
        yield server


# --- subprocesses: `videodolmetschen serve` -----------------------------------------------

class Instance:
    """One `videodolmetschen serve` process on a loopback port."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.env = {**env, "VD_ALLOWED_ORIGINS": self.url, "VD_PUBLIC_BASE_URL": self.url}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Instance:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "videodolmetschen"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-migrate"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_healthy(self, timeout: float = 90) -> None:  # two cold starts on a loaded 2-core machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not become healthy:\n{self.tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def instance_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VD_")}
    env.update({
        "VD_ENVIRONMENT": "test", "VD_DATABASE_URL": database_url, "VD_REDIS_URL": redis_url,
        "VD_SECRET_KEY": SECRET, "VD_SCHEDULER_LEASE_SECONDS": "3", "VD_PRESENCE_GRACE_SECONDS": "2",
        "VD_REJOIN_GRACE_SECONDS": "30", "VD_LOG_FORMAT": "json", "VD_DRAIN_SECONDS": "0",
    })
    env.update(extra)
    return env


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[Instance]]:
    """Started instances are stopped after the test (killed if they do not stop)."""
    started: list[Instance] = []
    yield started
    for inst in started:
        inst.stop()
