from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from broker.auth.deps import public
from broker.deps import SessionDep


class HealthRead(BaseModel):
    status: str
    database: str


router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthRead, dependencies=[Depends(public)],
            responses={503: {"model": HealthRead}})
async def healthz(db: SessionDep) -> HealthRead | JSONResponse:
    """Check that the app answers and the database is reachable."""
    try:
        await db.execute(text("SELECT 1"))
    except Exception:  # any driver error means: not healthy
        return JSONResponse(status_code=503, content={"status": "unavailable", "database": "error"})
    return HealthRead(status="ok", database="ok")
