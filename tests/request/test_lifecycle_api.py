"""The lifecycle's named sets as the pages read them: served from the one table, not copied."""

from __future__ import annotations

from broker.request import lifecycle
from tests.request.conftest import Api


async def test_pages_read_the_lifecycle_sets_from_the_server(api: Api) -> None:
    """GET /api/requests/lifecycle answers the lifecycle module's sets; without a login it is a 401."""
    response = await api.client.get("/api/requests/lifecycle", headers=api.world.auth("caseworker_a"))
    assert response.status_code == 200, response.text
    sets = response.json()
    assert sets["cancellable"] == [s.value for s in lifecycle.CANCELLABLE] == ["queued", "offered", "callback"]
    assert set(sets["final"]) == {s.value for s in lifecycle.FINAL} and "escalated" in sets["final"]
    assert set(sets) == {"waiting", "cancellable", "in_call", "joinable", "booking_active", "final"}
    assert (await api.client.get("/api/requests/lifecycle")).status_code == 401
