"""/docs and /openapi.json: public in development, admins only in production, by a setting."""

from __future__ import annotations

import httpx
import pytest

from broker.app import create_app
from broker.config import Environment, Settings
from tests.conftest import World


async def fetch_docs(settings: Settings, headers: dict[str, str] | None = None) -> tuple[int, int]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        schema = await client.get("/openapi.json", headers=headers or {})
        page = await client.get("/docs", headers=headers or {})
    if schema.status_code == 200:
        assert "/api/auth/login" in schema.json()["paths"]
        assert "swagger" in page.text.lower()
    return schema.status_code, page.status_code


def production(settings: Settings, **extra: object) -> Settings:
    return settings.model_copy(update={"environment": Environment.PRODUCTION, **extra})


async def test_docs_are_public_in_development(settings: Settings, world: World) -> None:
    """In development anyone may read the API description."""
    development = settings.model_copy(update={"environment": Environment.DEVELOPMENT})
    assert await fetch_docs(development) == (200, 200)


@pytest.mark.parametrize(("who", "expected"), [(None, (401, 401)), ("manager", (403, 403)),
                                               ("caseworker_a", (403, 403)), ("admin", (200, 200))])
async def test_docs_are_admin_only_in_production(settings: Settings, world: World, who: str | None,
                                                 expected: tuple[int, int]) -> None:
    """In production only a signed-in admin gets /docs and /openapi.json."""
    assert await fetch_docs(production(settings), world.auth(who) if who else None) == expected


async def test_the_setting_opens_or_closes_the_docs_explicitly(settings: Settings, world: World) -> None:
    """VD_API_DOCS_PUBLIC overrides the environment's default in both directions."""
    assert await fetch_docs(production(settings, api_docs_public=True)) == (200, 200)
    closed = settings.model_copy(update={"environment": Environment.DEVELOPMENT, "api_docs_public": False})
    assert await fetch_docs(closed) == (401, 401)
