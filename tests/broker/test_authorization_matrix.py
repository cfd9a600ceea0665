"""Authorisation matrix generated from the app's own route table.

Every /api route must declare its roles with a RoleGuard; then every route is called by
every role (and anonymously): a role outside the guard gets 403, nobody signed in gets 401,
an allowed role never gets the guard's 403. A new endpoint is covered without editing this
file; a new path parameter must say here which office-B object it names, so cross-office
access is tested for it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth import service as auth_service
from broker.auth.deps import ROLE_FORBIDDEN, RoleGuard
from broker.database import utcnow
from broker.enums import RequestMode, RequestStatus, Role
from broker.request.models import InterpretingRequest
from tests.conftest import World

ROLES: list[Role | None] = [None, *Role]


def guard_of(route: APIRoute) -> RoleGuard | None:
    def walk(dependant: Dependant) -> RoleGuard | None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, RoleGuard):
                return dep.call
            if found := walk(dep):
                return found
        return None

    return walk(route.dependant)


def _flatten(routes: list[Any]) -> list[tuple[str, APIRoute]]:
    """(full path, route) for every APIRoute, also inside included routers (FastAPI ≥ 0.16x nests them)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((route.path, route))
        elif hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    found.append((ctx.path, ctx.original_route))
    return found


def api_routes(app: FastAPI) -> list[tuple[APIRoute, str, str]]:
    routes = []
    for path, route in _flatten(list(app.routes)):
        if path.startswith("/api") or path == "/healthz":
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                routes.append((route, method, path))
    assert routes, "no API routes found: has FastAPI's route table changed shape?"
    return routes


async def office_b_objects(db: AsyncSession, world: World) -> dict[str, Callable[[], Any]]:
    """Path parameter → an object of office B (or another user's), which office A must not see."""
    request = InterpretingRequest(
        office_id=world.office_b.id, caseworker_id=world.users["caseworker_b"].id, language_code="ar",
        purpose="other", mode=RequestMode.BOOKED, status=RequestStatus.REQUESTED,
        scheduled_start=utcnow() + timedelta(days=2), scheduled_end=utcnow() + timedelta(days=2, hours=1),
    )
    db.add(request)
    await db.commit()
    values: dict[str, Any] = {
        "office_id": world.office_b.id,
        "user_id": world.users["caseworker_b"].id,
        "interpreter_id": world.users["interpreter"].id,
        "request_id": request.id,
        "booking_id": request.id,
        "code": "ar",
    }
    return {name: (lambda v=v: v) for name, v in values.items()}


def fill(path: str, objects: dict[str, Callable[[], Any]]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(objects[name]()) if name in objects else "999999"

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def call(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    return await client.request(method, url, **kwargs)


async def fresh_headers(db: AsyncSession, world: World, role: Role | None) -> dict[str, str]:
    """A new token per call, so a route that signs out cannot spoil the next call."""
    if role is None:
        return {}
    name = {Role.ADMIN: "admin", Role.MANAGER: "manager", Role.CASEWORKER: "caseworker_a",
            Role.INTERPRETER: "interpreter"}[role]
    token = await auth_service.start_session(db=db, user=world.users[name], kind="bearer", hours=1)
    await db.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_every_api_route_declares_its_roles(app: FastAPI) -> None:
    """No API route exists without a RoleGuard naming who may call it."""
    missing = [f"{m} {p}" for r, m, p in api_routes(app) if guard_of(r) is None]
    assert not missing, f"routes without allow(...)/public: {missing}"


async def test_every_path_parameter_has_a_cross_office_object(app: FastAPI, db: AsyncSession, world: World) -> None:
    """Each path parameter is known here, so cross-office access is exercised for it."""
    objects = await office_b_objects(db, world)
    names = {n for _r, _m, p in api_routes(app) for n in re.findall(r"\{(\w+)", p)}
    known = set(objects) | {"absence_id", "offer_id", "token", "room_id", "entry_id", "message_id"}
    assert names <= known, f"teach this test about: {sorted(names - known)}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
async def test_role_matrix(client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, world: World,
                           role: Role | None) -> None:
    """Outside the guard → 403, anonymous → 401, inside → never the guard's refusal."""
    objects = await office_b_objects(db, world)
    problems = []
    for route, method, path in api_routes(app):
        guard = guard_of(route)
        assert guard is not None
        url = fill(path, objects)
        response = await call(client, method, url, await fresh_headers(db, world, role))
        public = not guard.roles
        if public:
            ok = response.status_code not in (401, 403)
        elif role is None:
            ok = response.status_code == 401
        elif role in guard.roles:
            ok = response.status_code != 401 and not (
                response.status_code == 403 and response.json().get("code") == ROLE_FORBIDDEN
            )
        else:
            ok = response.status_code == 403 and response.json().get("code") == ROLE_FORBIDDEN
        if response.status_code >= 500:
            ok = False
        if not ok:
            problems.append(f"{method} {path} as {role}: {response.status_code} {response.text[:120]}")
    assert not problems, "\n".join(problems)


async def test_caseworker_cannot_read_other_office_objects(client: httpx.AsyncClient, app: FastAPI,
                                                           db: AsyncSession, world: World) -> None:
    """Every GET a caseworker may call, aimed at an office-B object, answers 404."""
    objects = await office_b_objects(db, world)
    headers = world.auth("caseworker_a")
    checked, problems = 0, []
    for route, method, path in api_routes(app):
        guard = guard_of(route)
        if method != "GET" or not guard or Role.CASEWORKER not in guard.roles:
            continue
        params = re.findall(r"\{(\w+)", path)
        if not any(p in ("office_id", "user_id", "request_id", "booking_id") for p in params):
            continue
        response = await client.get(fill(path, objects), headers=headers)
        checked += 1
        if response.status_code != 404:
            problems.append(f"GET {path}: {response.status_code}")
    assert checked >= 2
    assert not problems, problems


async def test_caseworker_cannot_change_other_office_objects(client: httpx.AsyncClient, app: FastAPI,
                                                             db: AsyncSession, world: World) -> None:
    """Every write a caseworker may call on an office-B object answers 404 (or 422 before lookup)."""
    objects = await office_b_objects(db, world)
    headers = world.auth("caseworker_a")
    problems = []
    for route, method, path in api_routes(app):
        guard = guard_of(route)
        if method == "GET" or not guard or Role.CASEWORKER not in guard.roles:
            continue
        params = re.findall(r"\{(\w+)", path)
        if not any(p in ("office_id", "user_id", "request_id", "booking_id") for p in params):
            continue
        response = await call(client, method, fill(path, objects), headers)
        if response.status_code not in (404, 422):
            problems.append(f"{method} {path}: {response.status_code}")
    assert not problems, problems
