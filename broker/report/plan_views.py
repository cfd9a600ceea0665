"""Simulator-based planning API under /api/reports (managers and admins): coverage, plan, what-if.

Kept apart from `views.py` (usage, exports, dashboard): these endpoints fit or load a scenario
and run the simulator on a report worker (`offload`), with every parameter bounded (422 names
the field) and every search bounded in time.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from broker.auth.deps import allow
from broker.deps import SessionDep, settings_of
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, ValidationErrorRead
from broker.report import coverage
from broker.report.plan_schemas import CoverageParams, CoverageReport
from broker.report.views import Filters, _in_worker

router = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    dependencies=[Depends(allow(Role.MANAGER, Role.ADMIN))],
    responses={
        **COMMON_RESPONSES,
        422: {"model": ValidationErrorRead, "description": "A parameter outside its range (the field is named)"},
    },
)


def coverage_params(
    request: Request,
    tier_target: Annotated[
        float, Query(ge=0.5, le=0.999, description="Share of requests a response tier must reach")
    ] = 0.9,
) -> CoverageParams:
    settings = settings_of(request)
    return CoverageParams(tier_target=tier_target, max_wait_seconds=settings.max_wait_seconds,
                          wrap_up_seconds=settings.wrap_up_seconds)


@router.get("/coverage", response_model=CoverageReport)
async def get_coverage(
    request: Request, db: SessionDep, filters: Filters, params: Annotated[CoverageParams, Depends(coverage_params)]
) -> CoverageReport:
    """Per language and hour of the week: P(a speaker is online), expected unfilled share, response tier."""
    return await _in_worker(request, db, coverage.coverage_report, filters=filters, params=params)
