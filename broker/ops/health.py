from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from broker.auth.deps import public
from broker.deps import RuntimeDep, SessionDep, SettingsDep
from broker.live.runtime import Runtime


class HealthRead(BaseModel):
    status: str
    database: str
    bus: str = "memory"  # the signalling backplane: memory (one process), ok, or down (degraded)


router = APIRouter(tags=["health"])


def bus_state(runtime: Runtime) -> str:
    backplane = getattr(runtime.hub, "backplane", None)
    state = getattr(backplane, "state", None)  # only the Redis backplane has a state
    return str(state) if state is not None else "memory"


@router.get("/healthz", response_model=HealthRead, dependencies=[Depends(public)],
            responses={503: {"model": HealthRead}})
async def healthz(runtime: RuntimeDep, db: SessionDep, settings: SettingsDep) -> HealthRead | JSONResponse:
    """Check that the app answers, the database is reachable, and the bus is connected.

    It answers within about a second even when the database hangs (a partition): the database gets
    `health_database_timeout_seconds`, so a proxy's health check sees "unavailable", not its own timeout.
    """
    bus = bus_state(runtime)
    try:
        async with asyncio.timeout(settings.health_database_timeout_seconds):
            await db.execute(text("SELECT 1"))
    except TimeoutError:
        return JSONResponse(status_code=503, content={"status": "unavailable", "database": "timeout", "bus": bus})
    except Exception:  # any driver error means: not healthy
        return JSONResponse(status_code=503, content={"status": "unavailable", "database": "error", "bus": bus})
    # Redis away: this instance still serves its own sockets (degraded), so it stays in rotation.
    return HealthRead(status="degraded" if bus == "down" else "ok", database="ok", bus=bus)
