"""Sign-out reaches every instance: two real app instances (uvicorn, one PostgreSQL, a real
redis-server between them) — a logout or a deactivation on one closes sockets held by the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import uvicorn

from broker.app import create_app, server_config
from broker.config import Environment, Settings
from broker.database import make_engine, make_sessionmaker
from signaling.connection import CLOSE_SIGNED_OUT
from tests.broker.test_signout_sockets import frames_until_closed, open_socket, sign_in, still_open, ws_token
from tests.cluster.conftest import SECRET, RedisServer
from tests.conftest import LiveServer, World, build_world, free_port
from tests.waiting import eventually


@asynccontextmanager
async def instance(database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(_env_file=None, environment=Environment.TEST, database_url=database_url,  # type: ignore[call-arg]
                        redis_url=redis_url, secret_key=SECRET, scheduler_enabled=False,
                        allowed_origins=[origin], public_base_url=origin)
    app = create_app(settings)
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done())
    assert not task.done(), "uvicorn did not start"
    try:
        yield LiveServer(url=origin, ws_url=f"ws://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


async def seeded_world(database_url: str) -> World:
    engine = make_engine(Settings(_env_file=None, database_url=database_url))  # type: ignore[call-arg]
    try:
        async with make_sessionmaker(engine)() as db:
            return await build_world(db)
    finally:
        await engine.dispose()


async def test_logout_and_deactivation_on_one_instance_close_sockets_on_the_other(
    cluster_pg_url: str, redis_server: RedisServer
) -> None:
    """The interpreter's session has sockets on A and B; logging out through B closes both
    (4401) while another session's socket on A stays open; deactivating the interpreter through A
    then closes that last socket too."""
    world = await seeded_world(cluster_pg_url)
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(instance(cluster_pg_url, redis_server.url))
        b = await stack.enter_async_context(instance(cluster_pg_url, redis_server.url))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        session = await sign_in(http, "interpreter", base=a.url)
        other = await sign_in(http, "interpreter", base=a.url)
        on_a = await open_socket(a, await ws_token(http, session, base=a.url))
        on_b = await open_socket(b, await ws_token(http, session, base=b.url))
        other_on_a = await open_socket(a, await ws_token(http, other, base=a.url))
        assert (await http.post(f"{b.url}/api/auth/logout", headers=session)).status_code == 204
        assert (await frames_until_closed(on_a))[1] == CLOSE_SIGNED_OUT
        assert (await frames_until_closed(on_b))[1] == CLOSE_SIGNED_OUT
        assert await still_open(other_on_a)
        interpreter_id = world.users["interpreter"].id
        off = await http.patch(f"{b.url}/api/users/{interpreter_id}", json={"active": False},
                               headers=world.auth("admin"))
        assert off.status_code == 200, off.text
        assert (await frames_until_closed(other_on_a))[1] == CLOSE_SIGNED_OUT
