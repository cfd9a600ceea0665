"""Browser fixtures: Debian's Chromium driven by Playwright (async API, the test's event loop).

Never a browser download: `executable_path` is /usr/bin/chromium. A missing Chromium skips
loudly on a workstation and fails in CI (`require_or_skip`). Each test gets its own browser
(Playwright gives it a fresh temporary profile directory) and separate contexts per person.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, WebSocket, async_playwright, expect

from broker.config import Settings
from tests.conftest import FAILED, PASSWORD, LiveServer, require_or_skip

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
BLOCKING_IMPACTS = {"serious", "critical"}

# Assertions wait as long as actions (below, per context): on a loaded machine a page's
# language switch or a WebSocket event can take longer than Playwright's 5 s default.
expect.set_options(timeout=30_000)


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Offers ring for two minutes, not twenty seconds: between an offer and its click a test checks
    the dialog's layout, focus and accessibility, which on a loaded machine outlasted the twenty
    seconds, so the offer expired and its buttons went away before the click."""
    return settings.model_copy(update={"offer_timeout_seconds": 120.0})


@pytest.fixture
def backend() -> str:
    """Browser tests prove the pages, not the database: SQLite only (the API tests cover both)."""
    return "sqlite"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_or_skip(chromium_available(), f"Chromium ({CHROMIUM}; run scripts/ensure-chromium.sh)")
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@dataclass
class Person:
    """One signed-in browser context and its page; console errors are collected for asserts."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    api: list[str] = field(default_factory=list)  # the page's last API answers, for a failure's evidence
    username: str | None = None


@dataclass
class Web:
    server: LiveServer
    browser: Browser
    people: list[Person] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.server.url + path

    async def person(self, username: str | None, *, locale: str = "de-DE", enforce_csp: bool = False) -> Person:
        """A fresh context, signed in as `username` (None: anonymous), with one open page.

        The app's CSP forbids `eval`, which Playwright's polling of string expressions
        (`wait_for_function("…")`) uses; so the behaviour tests bypass the CSP, and
        tests/web/test_csp.py (enforce_csp=True) proves the pages under it.
        """
        context = await self.browser.new_context(
            base_url=self.server.url, locale=locale, viewport={"width": 1280, "height": 900},
            bypass_csp=not enforce_csp,
        )
        # generous: two xdist workers, Chromium and the app share two cores on CI
        context.set_default_timeout(30_000)
        if username is not None:
            response = await context.request.post(
                self.url("/api/auth/login"), data={"username": username, "password": PASSWORD}
            )
            assert response.ok, await response.text()
        page = await context.new_page()
        person = Person(context, page, username=username)
        page.on("console", lambda m: person.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: person.errors.append(str(e)))
        here = self.server.url
        page.on("request", lambda r: _remember(person.api, f"{time.strftime('%H:%M:%S')} asks {r.method} "
                                                f"{r.url.removeprefix(here)}") if "/api/" in r.url else None)
        page.on("response", lambda r: _remember(person.api, f"{time.strftime('%H:%M:%S')} {r.status} "
                                                 f"{r.request.method} {r.url.removeprefix(here)}")
                if "/api/" in r.url else None)
        page.on("websocket", lambda ws: _watch_socket(person.api, ws))
        self.people.append(person)
        return person


def _remember(log: list[str], line: str, keep: int = 40) -> None:
    log.append(line)
    del log[:-keep]


def _watch_socket(log: list[str], socket: WebSocket) -> None:
    _remember(log, f"{time.strftime('%H:%M:%S')} websocket opened")
    socket.on("close", lambda _socket: _remember(log, f"{time.strftime('%H:%M:%S')} websocket closed"))


async def _evidence(site: Web, name: str, artifacts_dir: Path) -> None:
    """What each person saw when the test failed: a screenshot in test-artifacts/failures/, and
    on stdout (so CI's log has it) the page's address, state, visible text, errors and API answers."""
    folder = artifacts_dir / "failures"
    folder.mkdir(parents=True, exist_ok=True)
    for number, person in enumerate(site.people):
        page = person.page
        try:
            await page.screenshot(path=str(folder / f"{name}-{number}.png"), full_page=True, timeout=10_000)
            state = await page.evaluate("JSON.stringify(document.body.dataset)")
            text = (await page.evaluate("document.body.innerText"))[:1500]
        except Exception as exc:  # the page may be gone; the rest of the evidence still helps
            state, text = "?", f"(page unreadable: {exc})"
        print(f"--- {person.username or 'anonymous'} at {page.url} {state}\n{text}\n"
              f"errors: {person.errors}\napi:\n  " + "\n  ".join(person.api))
    _server_evidence(site.server)


def _server_evidence(server: LiveServer) -> None:
    """The server's side of a stall: its database pool, whether another connection holds SQLite's
    write lock, and where each task that runs our code waits (innermost frames)."""
    runtime = getattr(server.app.state, "runtime", None)
    if runtime is not None:
        print(f"--- server database pool: {runtime.engine.pool.status()}")
        path = runtime.settings.sqlite_path()
        if path is not None:
            print(f"--- SQLite write lock: {_sqlite_write_lock(path)}")
    for task in asyncio.all_tasks():
        frames = task.get_stack()  # outermost first, whole depth: request handlers sit deep in middleware
        if any("/broker/" in f.f_code.co_filename or "/signaling/" in f.f_code.co_filename for f in frames):
            where = " <- ".join(f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}"
                                for f in reversed(frames[-8:]))
            print(f"--- task {task.get_name()}: {where}")


def _sqlite_write_lock(path: Path) -> str:
    """'free', or who-knows-who holds it: a connection of its own asks for the lock without waiting."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return "free"
    except sqlite3.OperationalError as exc:
        return f"held by another connection ({exc})"
    finally:
        connection.close()


@pytest.fixture
async def web(live_server: LiveServer, browser: Browser, request: pytest.FixtureRequest,
              artifacts_dir: Path) -> AsyncIterator[Web]:
    site = Web(server=live_server, browser=browser)
    try:
        yield site
    finally:
        if request.node.stash.get(FAILED, False):
            await _evidence(site, re.sub(r"[^\w.-]+", "_", request.node.name), artifacts_dir)
        for person in site.people:
            await person.context.close()


async def axe_check(page: Page, name: str, artifacts_dir: Path) -> list[dict[str, Any]]:
    """Screenshot the page and run axe-core; return the serious and critical violations."""
    shots = artifacts_dir / "web"
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    results = await Axe().run(page)
    violations = results.response["violations"]
    (shots / f"{name}.axe.json").write_text(json.dumps(violations, indent=1, ensure_ascii=False))
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in violations if v.get("impact") in BLOCKING_IMPACTS
    ]


async def ready(page: Page, flag: str = "ready") -> None:
    """Wait until the page's module set `document.body.dataset[flag]`."""
    await page.wait_for_function(f"document.body && document.body.dataset.{flag} === '1'")
