"""Every response of the app carries the security headers: pages, API answers, errors."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import World


@pytest.mark.parametrize("path", ["/login.html", "/api/auth/me", "/healthz", "/api/does-not-exist"])
async def test_security_headers_on_pages_api_and_errors(client: httpx.AsyncClient, world: World, path: str) -> None:
    """nosniff, no referrer, camera and microphone for the own origin only, no framing by anyone."""
    response = await client.get(path, headers=world.auth("caseworker_a"))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["permissions-policy"]
    assert "camera=(self)" in policy and "microphone=(self)" in policy
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
