"""The sign-in throttle (docs/security.md): atomic in the database, per account and per source,
a small capped delay per account, a stricter one per source, the client address from a trusted
proxy only — and argon2 off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.app import create_app
from broker.audit.models import AuditEntry
from broker.auth import security, throttle
from broker.config import Settings
from broker.database import utcnow
from tests.conftest import LOADED_MACHINE_TIMEOUT, PASSWORD, World, add_user, free_port, serve_app


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def count_audit(db: AsyncSession, action: str) -> int:
    await db.rollback()  # see what the app committed
    return int(await db.scalar(select(func.count()).where(AuditEntry.action == action)) or 0)


async def test_fifty_parallel_wrong_passwords_only_the_allowed_number_are_checked(
    settings: Settings, world: World, db: AsyncSession
) -> None:
    """50 wrong passwords at once for one account: exactly the 5 free attempts reach argon2 (one
    audit row each), the other 45 get 429 with Retry-After, and not one answer is a 5xx (no pool
    exhaustion) — check and count are one step in the database."""
    slow = settings.model_copy(update={"login_delay_base_seconds": 120.0,
                                       "login_account_max_delay_seconds": 300.0})
    async with running(slow) as app, client_from(app, "192.0.2.10") as client:
        answers = await asyncio.gather(*(login(client, "admin", f"wrong-guess-{i}") for i in range(50)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 5 + [429] * 45, statuses
    refused = [r for r in answers if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) > 0 and r.json()["code"] == "login_throttled" for r in refused)
    assert await count_audit(db, "login_failed") == 5


async def test_someone_elses_guesses_delay_the_real_user_by_seconds_not_minutes(
    settings: Settings, world: World
) -> None:
    """An attacker's 12 wrong guesses for `manager` make the account wait at most the small cap
    (Retry-After ≤ 30 s, not a lock-out for minutes); the real user, from their own address, signs
    in as soon as that delay is over."""
    quick = settings.model_copy(update={"login_delay_base_seconds": 0.05,
                                        "login_account_max_delay_seconds": 0.4})
    async with running(quick) as app, client_from(app, "198.51.100.66") as attacker, \
            client_from(app, "192.0.2.20") as victim:
        guesses = await asyncio.gather(*(login(attacker, "manager", f"guess-{i}") for i in range(12)))
        retry_afters = [int(a.headers["retry-after"]) for a in guesses if a.status_code == 429]
        assert retry_afters and max(retry_afters) <= 1
        default_cap = Settings().login_account_max_delay_seconds
        assert default_cap <= 30
        deadline = asyncio.get_running_loop().time() + 10
        while True:  # the condition: the right password gets in once the short delay has passed
            answer = await login(victim, "manager", PASSWORD)
            if answer.status_code != 429 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert answer.status_code == 200, answer.text


async def test_account_delay_doubles_and_stops_at_the_small_cap(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Per account: 5 attempts pass at once, then each waits base × 2ⁿ, never more than the cap;
    after a quiet window the counter is forgotten."""
    keys = throttle.keys_for(username="Someone", source="192.0.2.30")
    now = utcnow()
    waits = []
    async with sessionmaker() as db:
        for _ in range(12):
            wait = await throttle.admit(db=db, keys=keys, settings=settings, now=now)
            await db.commit()
            if wait:
                waits.append(wait)
                row = await db.get(throttle.LoginCounter, keys.account)
                assert row is not None
                now = row.next_allowed_at  # come back exactly when allowed
            else:
                waits.append(0)
        assert waits[:5] == [0] * 5 and waits[5] == 1
        row = await db.get(throttle.LoginCounter, keys.account)
        assert row is not None and row.attempts >= 6
        rule = throttle.account_rule(settings)
        assert [rule.delay(n) for n in range(4, 12)] == [0, 1, 2, 4, 8, 16, 30, 30]
        later = row.last_attempt_at + timedelta(seconds=settings.login_window_seconds + rule.max_delay_seconds)
        assert await throttle.admit(db=db, keys=keys, settings=settings, now=later) == 0
        await db.commit()
        row = await db.get(throttle.LoginCounter, keys.account, populate_existing=True)
        assert row is not None and row.attempts == 1


async def test_success_resets_the_account_but_not_the_source_counter(
    settings: Settings, world: World, db: AsyncSession
) -> None:
    """A password sprayer who also holds one valid account cannot wipe the source counter with
    a successful login: the source keeps its failures, only the account starts afresh."""
    async with running(settings) as app, client_from(app, "203.0.113.9") as sprayer:
        for name in ("admin", "manager", "caseworker_a", "caseworker_b"):
            assert (await login(sprayer, name, "Sommer2024!Sommer")).status_code == 401
        assert (await login(sprayer, "interpreter", "wrong-once-more")).status_code == 401
        assert (await login(sprayer, "interpreter", PASSWORD)).status_code == 200
    await db.rollback()
    source = await db.get(throttle.LoginCounter, "source:203.0.113.9")
    account = await db.get(throttle.LoginCounter, "account:interpreter")
    assert source is not None and source.attempts == 5
    assert account is not None and account.attempts == 0


async def test_one_source_spraying_many_accounts_is_stopped_while_others_sign_in(
    settings: Settings, world: World, db: AsyncSession
) -> None:
    """One address trying one password on many accounts is throttled after the source's free
    attempts, although no single account saw more than one guess; another address is unaffected."""
    strict = settings.model_copy(update={"login_source_free_attempts": 6, "login_delay_base_seconds": 60.0})
    for i in range(10):
        await add_user(db, f"spray-target-{i}", world.users["manager"].role)
    await db.commit()
    async with running(strict) as app, client_from(app, "203.0.113.50") as sprayer, \
            client_from(app, "192.0.2.51") as colleague:
        answers = [await login(sprayer, f"spray-target-{i}", "Winter2024!Winter") for i in range(10)]
        assert [a.status_code for a in answers] == [401] * 6 + [429] * 4
        assert (await login(colleague, "spray-target-9", PASSWORD)).status_code == 200
    assert await count_audit(db, "login_failed") == 6


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "untrusted-peer"])
async def test_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
    settings: Settings, world: World, trusted: bool
) -> None:
    """Behind a trusted proxy (VD_FORWARDED_ALLOW_IPS) two clients with different forwarded
    addresses have separate source counters; when the peer is not a trusted proxy the forged
    header is ignored and both count against the peer's own address."""
    allowed = "127.0.0.1" if trusted else "192.0.2.254"
    strict = settings.model_copy(update={"login_source_free_attempts": 3, "login_delay_base_seconds": 60.0,
                                         "forwarded_allow_ips": allowed})
    async with serve_app(strict, free_port()) as server, \
            httpx.AsyncClient(timeout=LOADED_MACHINE_TIMEOUT, base_url=server.url) as http:
        attacker = {"X-Forwarded-For": "198.51.100.1"}
        for name in ("admin", "manager", "caseworker_a"):
            answer = await http.post("/api/auth/login", headers=attacker,
                                     json={"username": name, "password": "Herbst2024!Herbst"})
            assert answer.status_code == 401
        other = await http.post("/api/auth/login", headers={"X-Forwarded-For": "198.51.100.2"},
                                json={"username": "caseworker_b", "password": PASSWORD})
    assert other.status_code == (200 if trusted else 429), other.text


async def test_a_bystander_is_answered_while_fifty_logins_wait_for_argon2(
    settings: Settings, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 runs in a bounded thread pool, not on the event loop: while 50 logins are held
    inside verification (the real argon2, held back by the test), /healthz answers and none of
    the logins has finished; never more than the pool's threads verify at once."""
    gate = threading.Event()
    inside = 0
    most = 0
    lock = threading.Lock()
    real_verify = security.verify_password

    def held_verify(password_hash: str | None, password: str) -> bool:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        gate.wait(timeout=20)
        try:
            return real_verify(password_hash, password)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(security, "verify_password", held_verify)
    many = settings.model_copy(update={"login_account_free_attempts": 1000, "login_source_free_attempts": 1000,
                                       "password_hash_threads": 2})
    async with running(many) as app, client_from(app, "192.0.2.60") as client:
        logins = [asyncio.create_task(login(client, "manager", PASSWORD)) for _ in range(50)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while inside < 2 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert inside == 2, "two logins should be inside argon2"
        health = await client.get("/healthz")
        assert health.status_code == 200
        done = [t.result().text for t in logins if t.done()]
        assert not done, f"the bystander was answered before any login: {done[:2]}"
        gate.set()
        answers = await asyncio.gather(*logins)
    assert [a.status_code for a in answers] == [200] * 50
    assert most == 2
