"""/metrics: Prometheus text with the operational figures, restricted to loopback or a token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from broker.app import create_app
from broker.config import Settings
from broker.interpreter.models import InterpreterProfile
from tests.conftest import World


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
async def remote_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_metrics_report_figures_from_database_and_hub(client: httpx.AsyncClient, world: World,
                                                            db: AsyncSession) -> None:
    """Interpreters online by language, queue, offers, latency histogram, calls and sockets are exposed."""
    profile = await db.get(InterpreterProfile, world.users["interpreter"].id)
    assert profile is not None
    profile.online = True
    await db.commit()
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("vd_interpreters_online", (("language", "ar"),))] == 1
    assert samples[("vd_interpreters_online", (("language", "fa"),))] == 1
    assert samples[("vd_queue_length", ())] == 0
    assert samples[("vd_offers_total", (("outcome", "accepted"),))] == 0
    assert samples[("vd_dispatch_latency_seconds_count", ())] == 0
    assert ("vd_dispatch_latency_seconds_bucket", (("le", "+Inf"),)) in samples
    assert samples[("vd_active_calls", ())] == 0
    assert samples[("vd_websocket_connections", ())] == 0
    assert samples[("vd_draining", ())] == 0


async def test_metrics_refuse_remote_clients_without_token(remote_client: httpx.AsyncClient) -> None:
    """Without VD_METRICS_TOKEN only loopback clients may scrape."""
    response = await remote_client.get("/metrics")
    assert response.status_code == 403
    assert response.json()["code"] == "metrics_loopback_only"


async def test_metrics_token_is_required_when_set(app: FastAPI, remote_client: httpx.AsyncClient,
                                                  client: httpx.AsyncClient) -> None:
    """With a token set, every client (loopback too) must send it as a bearer token."""
    app.state.ops.settings = app.state.settings.model_copy(update={"metrics_token": "scrape-secret"})
    assert (await client.get("/metrics")).status_code == 401
    wrong = await remote_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = await remote_client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert right.status_code == 200 and "vd_queue_length" in right.text


async def test_each_app_has_its_own_registry(settings: Settings) -> None:
    """Creating many apps in one process never collides in a global registry."""
    apps = [create_app(settings) for _ in range(3)]
    registries = {id(a.state.ops.metrics.registry) for a in apps}
    assert len(registries) == 3
