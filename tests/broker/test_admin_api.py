"""Admin API: offices, users, languages, interpreter profiles — happy paths and every bad input."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.audit.models import AuditEntry
from broker.database import utcnow
from broker.enums import LedgerOutcome, Media, RequestMode
from broker.ledger.models import LedgerEntry
from tests.conftest import World


async def test_admin_creates_office_user_and_language_with_audit(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    """An admin creates an office, a caseworker in it and a CLDR language; each is audited."""
    admin = world.auth("admin")
    office_in = {"name": "Sozialamt Erfurt", "kind": "social_welfare_office", "district_ags": "16051"}
    office = await client.post("/api/offices", headers=admin, json=office_in)
    assert office.status_code == 201, office.text
    user = await client.post("/api/users", headers=admin, json={
        "username": "sb-sozialamt-1", "display_name": "SB 1", "role": "caseworker",
        "office_id": office.json()["id"], "password": "long-enough-pw", "email": "sb1@erfurt.example"})
    assert user.status_code == 201, user.text
    language = await client.post("/api/languages", headers=admin, json={"code": "ti"})
    assert language.status_code == 201
    assert language.json()["name_de"] == "Tigrinya" and language.json()["name_native"] == "ትግርኛ"
    actions = set((await db.execute(select(AuditEntry.action))).scalars())
    assert {"office_create", "user_create", "language_create"} <= actions


async def test_rtl_flag_comes_from_cldr(client: httpx.AsyncClient, world: World) -> None:
    """Adding Pashto marks it right-to-left without the admin saying so."""
    response = await client.post("/api/languages", headers=world.auth("admin"), json={"code": "ps"})
    assert response.json()["rtl"] is True


async def test_lists_are_paginated_and_filterable(client: httpx.AsyncClient, world: World) -> None:
    """Users can be listed page by page and filtered by role."""
    page = await client.get("/api/users", params={"limit": 2, "offset": 0}, headers=world.auth("admin"))
    body = page.json()
    assert body["total"] == 5 and len(body["items"]) == 2
    interpreters = await client.get("/api/users", params={"role": "interpreter"}, headers=world.auth("admin"))
    assert [u["username"] for u in interpreters.json()["items"]] == ["interpreter"]


async def test_interpreter_profile_languages_and_availability(client: httpx.AsyncClient, world: World) -> None:
    """An admin sets qualifications; the interpreter edits their own weekly availability."""
    interpreter_id = world.users["interpreter"].id
    response = await client.patch(f"/api/interpreters/{interpreter_id}", headers=world.auth("admin"), json={
        "languages": [{"language_code": "uk", "qualification": "sworn"}], "gender": "female"})
    assert response.status_code == 200, response.text
    assert response.json()["languages"] == [{"language_code": "uk", "qualification": "sworn"}]
    windows = await client.put(f"/api/interpreters/{interpreter_id}/availability", headers=world.auth("interpreter"),
                               json={"windows": [{"weekday": 0, "start_time": "08:00", "end_time": "12:00"}]})
    assert windows.status_code == 200 and len(windows.json()) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/offices", {"name": "X Office", "kind": "immigration_office", "district_ags": "16051",
                                  "colour": "red"}, "colour"),
        ("post", "/api/offices", {"name": "X Office", "kind": "embassy", "district_ags": "16051"}, "kind"),
        ("post", "/api/users", {"username": "new-user", "display_name": "N", "role": "caseworker",
                                "office_id": "one", "password": "long-enough-pw"}, "office_id"),
        ("post", "/api/users", {"username": "new-user", "display_name": "N", "role": "manager",
                                "password": "long-enough-pw", "email": "not-an-address"}, "email"),
        ("post", "/api/languages", {"code": "ar", "rtl": "sometimes"}, "rtl"),
    ],
)
async def test_unknown_or_wrongly_typed_fields_give_422_naming_the_field(
    client: httpx.AsyncClient, world: World, unchanged, method: str, path: str, body: dict, field: str
) -> None:
    """A request with an unknown or wrongly typed field is refused with 422 naming it; nothing changes."""
    async with unchanged():
        response = await client.request(method.upper(), path, json=body, headers=world.auth("admin"))
    assert response.status_code == 422
    assert any(field in map(str, err["loc"]) for err in response.json()["detail"]), response.text


async def test_unknown_language_code_gives_422(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """A code CLDR does not know, without names, is refused with a message; nothing changes."""
    async with unchanged():
        response = await client.post("/api/languages", json={"code": "xqz"}, headers=world.auth("admin"))
    assert response.status_code == 422
    assert response.json()["code"] == "language_names_required"


async def test_unknown_language_in_profile_gives_422(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """Qualifying an interpreter for a language we do not have is refused; nothing changes."""
    interpreter_id = world.users["interpreter"].id
    async with unchanged():
        response = await client.patch(f"/api/interpreters/{interpreter_id}", headers=world.auth("admin"),
                                      json={"languages": [{"language_code": "xqz", "qualification": "sworn"}]})
    assert response.status_code == 422


async def test_duplicate_username_gives_409(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """Creating a second user with an existing username is refused with 409; nothing changes."""
    async with unchanged():
        response = await client.post("/api/users", headers=world.auth("admin"), json={
            "username": "manager", "display_name": "Again", "role": "manager", "password": "long-enough-pw"})
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_username"


async def test_caseworker_without_office_gives_422(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """A caseworker account needs an office; without one nothing is created."""
    async with unchanged():
        response = await client.post("/api/users", headers=world.auth("admin"), json={
            "username": "lonely", "display_name": "L", "role": "caseworker", "password": "long-enough-pw"})
    assert response.status_code == 422


async def test_deactivating_an_office_keeps_its_history(
    client: httpx.AsyncClient, world: World, db: AsyncSession
) -> None:
    """Deactivation sets active=false; the office row and the ledger rows naming it stay."""
    db.add(LedgerEntry(office_id=world.office_a.id, office_kind=world.office_a.kind, district_ags="16051",
                       language_code="ar", purpose="other", mode=RequestMode.ON_DEMAND, media=Media.VIDEO,
                       requested_at=utcnow(), outcome=LedgerOutcome.COMPLETED, talk_seconds=600))
    await db.commit()
    response = await client.patch(f"/api/offices/{world.office_a.id}", json={"active": False},
                                  headers=world.auth("admin"))
    assert response.status_code == 200 and response.json()["active"] is False
    assert (await client.get(f"/api/offices/{world.office_a.id}", headers=world.auth("admin"))).status_code == 200
    assert await db.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    no_delete = await client.delete(f"/api/offices/{world.office_a.id}", headers=world.auth("admin"))
    assert no_delete.status_code == 405


async def test_caseworker_of_office_a_gets_404_for_office_b(client: httpx.AsyncClient, world: World,
                                                            unchanged) -> None:
    """Reading or changing office B's objects as office A's caseworker answers 404; nothing changes."""
    headers = world.auth("caseworker_a")
    async with unchanged():
        assert (await client.get(f"/api/offices/{world.office_b.id}", headers=headers)).status_code == 404
        user_b = world.users["caseworker_b"].id
        assert (await client.get(f"/api/users/{user_b}", headers=headers)).status_code == 404
    own = await client.get(f"/api/offices/{world.office_a.id}", headers=headers)
    assert own.status_code == 200


async def test_wrong_role_gives_403_and_changes_nothing(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """A manager may not create users: 403, and nothing is written."""
    async with unchanged():
        response = await client.post("/api/users", headers=world.auth("manager"), json={
            "username": "sneaky", "display_name": "S", "role": "admin", "password": "long-enough-pw"})
    assert response.status_code == 403


async def test_no_session_gives_401_and_changes_nothing(client: httpx.AsyncClient, world: World, unchanged) -> None:
    """Without a session a write is refused with 401 and nothing is written."""
    async with unchanged():
        response = await client.post("/api/offices", json={"name": "Anon", "kind": "other", "district_ags": "16051"})
    assert response.status_code == 401


async def test_healthz_checks_the_database(client: httpx.AsyncClient, world: World) -> None:
    """/healthz answers ok when the database answers."""
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok", "bus": "memory"}


async def test_healthz_answers_503_when_the_database_is_slower_than_its_timeout(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    """A database that does not answer `SELECT 1` within `health_database_timeout_seconds` makes /healthz
    answer 503 `database: timeout` (a nanosecond here: no query answers that fast), so the proxy moves away."""
    app.state.settings = app.state.settings.model_copy(update={"health_database_timeout_seconds": 1e-9})
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "timeout", "bus": "memory"}


async def test_every_user_may_change_their_own_locale(client: httpx.AsyncClient, world: World) -> None:
    """An interpreter switches their interface to English without admin rights."""
    response = await client.patch("/api/users/me", json={"locale": "en"}, headers=world.auth("interpreter"))
    assert response.status_code == 200 and response.json()["locale"] == "en"
    bad = await client.patch("/api/users/me", json={"locale": "xx"}, headers=world.auth("interpreter"))
    assert bad.status_code == 422
    role = await client.patch("/api/users/me", json={"role": "admin"}, headers=world.auth("interpreter"))
    assert role.status_code == 422


async def test_an_admin_cannot_deactivate_their_own_account(client: httpx.AsyncClient, world: World) -> None:
    """Deactivating oneself is refused with a code the page translates, and the account stays active."""
    admin = world.auth("admin")
    me = (await client.get("/api/auth/me", headers=admin)).json()
    response = await client.patch(f"/api/users/{me['id']}", headers=admin, json={"active": False})
    assert response.status_code == 409 and response.json()["code"] == "self_deactivation"
    assert (await client.get("/api/auth/me", headers=admin)).json()["active"] is True
