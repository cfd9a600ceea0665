"""Input rules shared by every route: no control characters in text, date-times within 2000–2099.

Each case runs on SQLite and PostgreSQL: PostgreSQL cannot store NUL in text (a 500 before
this rule), SQLite stored it silently; extreme offsets overflowed the UTC conversion.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, TypeAdapter, ValidationError

from tests.broker.test_authorization_matrix import api_routes
from tests.conftest import World

NUL = "a\u0000b"

# (who, method, path, body or None, query or None, the field the 422 must name)
BODY_CASES: list[tuple[str, str, str, dict[str, Any] | None, dict[str, str] | None, str]] = [
    ("admin", "POST", "/api/offices", {"name": NUL, "kind": "job_centre", "district_ags": "16051"}, None, "name"),
    ("admin", "POST", "/api/languages", {"code": "ti", "name_de": NUL}, None, "name_de"),
    ("admin", "PATCH", "/api/languages/ar", {"name_native": "x\u0000"}, None, "name_native"),
    ("admin", "POST", "/api/purposes", {"code": "visa", "name_de": "Visum", "name_en": NUL}, None, "name_en"),
    ("admin", "PATCH", "/api/purposes/other", {"name_de": NUL}, None, "name_de"),
    ("admin", "POST", "/api/users", {"username": "neu-1", "display_name": NUL, "role": "manager",
                                     "password": "long-enough-password"}, None, "display_name"),
    ("caseworker_a", "POST", "/api/bookings", {"language_code": "ar", "purpose": "resi\u0000dence",
                                               "start": "2030-01-07T09:00:00+01:00", "duration_minutes": 30},
     None, "purpose"),
    ("interpreter", "POST", "/api/interpreters/{interpreter}/absences",
     {"starts_at": "2030-01-07T09:00:00+01:00", "ends_at": "2030-01-08T09:00:00+01:00", "note": NUL}, None, "note"),
    ("admin", "GET", "/api/users", None, {"q": NUL}, "q"),
    ("admin", "GET", "/api/offices", None, {"q": "\u0000"}, "q"),
    ("manager", "GET", "/api/reports/usage", None, {"language": "a\u0000"}, "language"),
    ("caseworker_a", "GET", "/api/bookings/proposals", None,
     {"language_code": "ar", "purpose": NUL, "start": "2030-01-07T09:00:00+01:00", "duration_minutes": "30"},
     "purpose"),
]


async def _call(client: httpx.AsyncClient, world: World, case: tuple[Any, ...]) -> httpx.Response:
    who, method, path, body, query, _field = case
    path = path.replace("{interpreter}", str(world.users["interpreter"].id))
    return await client.request(method, path, headers=world.auth(who), json=body, params=query)


@pytest.mark.parametrize("case", BODY_CASES, ids=[f"{c[1]} {c[2]} {c[5]}" for c in BODY_CASES])
async def test_nul_in_any_text_field_is_refused_naming_the_field(
    client: httpx.AsyncClient, world: World, unchanged: Any, case: tuple[Any, ...]
) -> None:
    """A NUL byte in a body field or query parameter gets 422 naming that field and changes nothing."""
    async with unchanged():
        response = await _call(client, world, case)
    assert response.status_code == 422, response.text
    assert case[5] in response.json()["message"]
    assert any(case[5] in err["loc"] for err in response.json()["detail"])


@pytest.mark.parametrize("username", ["admin\u0000", "\u0000", "ad\u001bmin", "x\ud800"])
async def test_control_characters_in_the_unauthenticated_login_name_are_refused(
    client: httpx.AsyncClient, world: World, username: str
) -> None:
    """Signing in with a control character (or lone surrogate) in the name is a 422, not a 500."""
    body = json.dumps({"username": username, "password": "whatever-pw"})  # ASCII escapes, as a client sends
    response = await client.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert "username" in response.json()["message"]


async def test_ordinary_text_with_umlauts_and_rtl_script_is_still_accepted(
    client: httpx.AsyncClient, world: World
) -> None:
    """The rule refuses control characters only: German, Arabic and emoji text still go through."""
    response = await client.post("/api/offices", headers=world.auth("admin"),
                                 json={"name": "Sozialamt Gößnitz — مكتب 🏛", "kind": "job_centre",
                                       "district_ags": "16051"})
    assert response.status_code == 201, response.text


def test_every_text_input_of_every_route_refuses_nul(app: FastAPI) -> None:
    """Walks the route table: every str body field and query parameter refuses NUL (no route forgot it)."""
    missed: list[str] = []
    for route, _method, _path in api_routes(app):
        for param in route.dependant.query_params + [p for d in route.dependant.dependencies
                                                     for p in d.query_params]:
            if _accepts_str(param.field_info.annotation) and _accepts(param.field_info, "x\u0000"):
                missed.append(f"{route.path} ?{param.name}")
        body = route.body_field.field_info.annotation if route.body_field else None
        if isinstance(body, type) and issubclass(body, BaseModel):
            for name, field in body.model_fields.items():
                if _accepts_str(field.annotation) and _accepts_field(body, name):
                    missed.append(f"{route.path} {body.__name__}.{name}")
    assert not missed, f"text inputs that accept NUL: {missed}"


def _accepts_str(annotation: Any) -> bool:
    text = repr(annotation)
    return "str" in text and "Literal" not in text and "EmailStr" not in text and "Enum" not in text


def _accepts(field_info: Any, value: str) -> bool:
    from typing import Annotated

    try:
        TypeAdapter(Annotated[field_info.annotation, *field_info.metadata]).validate_python(value)
    except ValidationError:
        return False
    return True


def _accepts_field(model: type[BaseModel], name: str) -> bool:
    try:
        model.__pydantic_validator__.validate_assignment(model.model_construct(), name, "x\u0000")
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                                    "1999-12-31T23:00:00+00:00", "2100-01-01T00:00:00+01:00"])
async def test_absence_outside_2000_to_2099_is_refused(
    client: httpx.AsyncClient, world: World, unchanged: Any, moment: str
) -> None:
    """Absence start or end outside the years 2000–2099 (even at extreme offsets) gets 422, not 500."""
    interpreter = world.users["interpreter"].id
    for body in ({"starts_at": moment, "ends_at": "2030-01-08T09:00:00+01:00"},
                 {"starts_at": "2030-01-07T09:00:00+01:00", "ends_at": moment}):
        async with unchanged():
            response = await client.post(f"/api/interpreters/{interpreter}/absences",
                                         headers=world.auth("interpreter"), json=body)
        assert response.status_code == 422, response.text
        assert "2000" in response.text


def test_every_date_time_input_is_bounded(app: FastAPI) -> None:
    """Walks the route table: every date-time body field refuses year 9999 (the shared IsoDateTime)."""
    missed: list[str] = []
    for route, _method, _path in api_routes(app):
        if not route.body_field:
            continue
        body = route.body_field.field_info.annotation
        if not (isinstance(body, type) and issubclass(body, BaseModel)):
            continue
        for name, field in body.model_fields.items():
            if "datetime" not in repr(field.annotation).lower():
                continue
            try:
                body.__pydantic_validator__.validate_assignment(body.model_construct(), name,
                                                                "9999-12-31T23:59:59-14:00")
            except ValidationError:
                continue
            missed.append(f"{route.path} {body.__name__}.{name}")
    assert not missed, f"unbounded date-time inputs: {missed}"
