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
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


async def test_manager_pages_allow_inline_styles_for_plotly_but_never_inline_scripts(
    client: httpx.AsyncClient, world: World
) -> None:
    """Only /manager/ relaxes style-src (plotly.js injects styles); script-src stays 'self' without eval."""
    policy = (await client.get("/manager/", headers=world.auth("manager"))).headers["content-security-policy"]
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in directives["script-src"] and "frame-ancestors 'none'" in policy
