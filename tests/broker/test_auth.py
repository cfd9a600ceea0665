"""Sign-in, sessions, throttling and the audit trail of logins."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.app import create_app
from broker.audit.models import AuditEntry
from broker.config import Settings
from tests.conftest import PASSWORD, World


async def test_login_sets_httponly_samesite_cookie_that_signs_in(client: httpx.AsyncClient, world: World) -> None:
    """A browser login sets an HttpOnly, SameSite=strict cookie that authenticates later calls."""
    response = await client.post("/api/auth/login", json={"username": "caseworker_a", "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "caseworker_a"


async def test_bearer_token_signs_in_api_clients(client: httpx.AsyncClient, world: World) -> None:
    """An API client gets a bearer token that authenticates without cookies."""
    response = await client.post("/api/auth/token", json={"username": "manager", "password": PASSWORD})
    assert response.status_code == 200
    client.cookies.clear()
    token = response.json()["access_token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "manager"


async def test_logout_revokes_the_session(client: httpx.AsyncClient, world: World) -> None:
    """After logout the same token no longer works."""
    headers = world.auth("admin")
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_no_session_gives_401(client: httpx.AsyncClient, world: World) -> None:
    """Without a session every protected route answers 401."""
    assert (await client.get("/api/offices")).status_code == 401
    assert (await client.get("/api/auth/me", headers={"Authorization": "Bearer forged"})).status_code == 401


async def test_repeated_failed_logins_are_throttled(settings: Settings, world: World, db: AsyncSession) -> None:
    """Five wrong passwords, then even the right one waits: 429 with Retry-After and code
    `login_throttled`, and the password is not checked meanwhile (no sixth audit row)."""
    app = create_app(settings.model_copy(update={"login_delay_base_seconds": 60.0}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.1", 1)), base_url="http://t") as client:
        for _ in range(5):
            response = await client.post("/api/auth/login", json={"username": "admin", "password": "wrong-password"})
            assert response.status_code == 401
        blocked = await client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.json()["code"] == "login_throttled"
    assert 0 < int(blocked.headers["retry-after"]) <= 60
    failed = await db.scalar(select(func.count()).where(AuditEntry.action == "login_failed"))
    assert failed == 5


async def test_successful_login_is_audited(client: httpx.AsyncClient, world: World, db: AsyncSession) -> None:
    """A successful login writes one audit row naming the user."""
    await client.post("/api/auth/login", json={"username": "manager", "password": PASSWORD})
    rows = (await db.execute(select(AuditEntry).where(AuditEntry.action == "login"))).scalars().all()
    assert [r.actor_id for r in rows] == [world.users["manager"].id]


async def test_deactivated_user_cannot_sign_in(client: httpx.AsyncClient, world: World) -> None:
    """Deactivating a user ends their sessions and refuses new logins: the correct password learns
    `account_deactivated` (403, no session), a wrong one the same `login_failed` as any guess."""
    target = world.users["caseworker_b"]
    response = await client.patch(f"/api/users/{target.id}", json={"active": False}, headers=world.auth("admin"))
    assert response.status_code == 200
    assert (await client.get("/api/auth/me", headers=world.auth("caseworker_b"))).status_code == 401
    login = await client.post("/api/auth/login", json={"username": "caseworker_b", "password": PASSWORD})
    assert login.status_code == 403
    assert login.json()["code"] == "account_deactivated"
    assert "set-cookie" not in login.headers
    guess = await client.post("/api/auth/login", json={"username": "caseworker_b", "password": PASSWORD + "x"})
    unknown = await client.post("/api/auth/login", json={"username": "nobody_here", "password": PASSWORD + "x"})
    assert guess.status_code == unknown.status_code == 401
    assert guess.json() == unknown.json() == {"detail": "Wrong username or password.", "code": "login_failed"}
