"""Simulator-based planning API under /api/reports (managers and admins): coverage, plan, what-if.

Kept apart from `views.py` (usage, exports, dashboard): these endpoints fit or load a scenario
and run the simulator on a report worker (`offload`), with every parameter bounded (422 names
the field) and every search bounded in time.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from broker.auth.deps import allow
from broker.deps import SessionDep, settings_of
from broker.enums import Role
from broker.errors import COMMON_RESPONSES, ValidationErrorRead
from broker.report import coverage, headcount
from broker.report.plan_schemas import CoverageParams, CoverageReport
from broker.report.views import DOWNLOAD, Filters, Format, _download, _in_worker
from broker.routing.plan_models import PlanReport, PlanTarget
from broker.routing.scenario import ScenarioError
from broker.routing.whatif import AddedPeople, SecondLanguageReport, WhatIfReport, parse_added

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


@router.get("/coverage/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_coverage(
    request: Request, db: SessionDep, filters: Filters, params: Annotated[CoverageParams, Depends(coverage_params)],
    format: Format = "csv",
) -> StreamingResponse:
    """Coverage, expected unfilled share, response tier and reach per tier per language, as CSV or XLSX."""
    report = await _in_worker(request, db, coverage.coverage_report, filters=filters, params=params)
    await db.close()
    return _download("coverage", format, coverage.EXPORT_COLUMNS, coverage.export_rows(report))


Weeks = Annotated[int, Query(ge=1, le=104, description="Weeks of history the scenario is fitted from")]
SimWeeks = Annotated[int, Query(ge=1, le=52, description="Simulated weeks per run")]


def plan_target(
    service_level: Annotated[float, Query(ge=0.5, le=0.99, description="Share answered in time")] = 0.8,
    answer_seconds: Annotated[float, Query(ge=5, le=600, description="Answered in time: within this")] = 60.0,
    coverage: Annotated[float, Query(ge=0.5, le=0.99, description="Coverage target of low-volume languages")]
    = 0.9,
    volume_per_week: Annotated[
        float, Query(ge=1, le=100_000, description="Requests a week from which a language gets the service level")
    ] = 40.0,
    max_seconds: Annotated[float, Query(ge=1, le=120, description="Time bound of the search")] = 30.0,
) -> PlanTarget:
    return PlanTarget(service_level=service_level, answer_seconds=answer_seconds, coverage=coverage,
                      volume_per_week=volume_per_week, max_seconds=max_seconds)


Target = Annotated[PlanTarget, Depends(plan_target)]


async def _plan(request: Request, db: SessionDep, filters: Filters, target: PlanTarget, weeks: int) -> PlanReport:
    return await _in_worker(request, db, headcount.plan_report, filters=filters, weeks=weeks, target=target,
                            settings=settings_of(request))


@router.get("/plan", response_model=PlanReport)
async def get_plan(request: Request, db: SessionDep, filters: Filters, target: Target, weeks: Weeks = 12) -> PlanReport:
    """Head count per hour of the week for the pool (simulator-checked) beside the per-language Erlang C sum."""
    return await _plan(request, db, filters, target, weeks)


@router.get("/plan/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_plan(
    request: Request, db: SessionDep, filters: Filters, target: Target, weeks: Weeks = 12, format: Format = "csv"
) -> StreamingResponse:
    """The plan's 168 hours (people needed, Erlang C sum, online today, profiles) as CSV or XLSX."""
    report = await _plan(request, db, filters, target, weeks)
    await db.close()
    header = ["weekday", "hour", "people", "erlang_c_sum", "online", "profiles"]
    rows: list[dict[str, Any]] = [
        {**h.model_dump(exclude={"profiles"}), "profiles": " ".join(f"{p}:{n}" for p, n in h.profiles.items())}
        for h in report.hours
    ]
    return _download("plan", format, header, rows)


@router.get("/what-if", response_model=WhatIfReport)
async def get_what_if(
    request: Request,
    db: SessionDep,
    filters: Filters,
    add_language: Annotated[list[str], Query(min_length=1, max_length=12, description="Languages of the person")],
    count: Annotated[int, Query(ge=1, le=100)] = 1,
    day: Annotated[list[int], Query(max_length=7, description="Weekdays worked, 0 = Monday")] = [0, 1, 2, 3, 4],  # noqa: B006
    start_hour: Annotated[float, Query(ge=0, lt=24)] = 8,
    end_hour: Annotated[float, Query(gt=0, le=48)] = 16,
    weeks: Weeks = 12,
    sim_weeks: SimWeeks = 8,
) -> WhatIfReport:
    """Expected change in unfilled requests per language if these people join (same seeds before and after)."""
    try:
        added: AddedPeople = parse_added({"languages": add_language, "count": count, "days": day,
                                          "start_hour": start_hour, "end_hour": end_hour})
    except ScenarioError as exc:
        raise headcount.PlanInputError(exc) from None
    return await _in_worker(request, db, headcount.what_if_report, filters=filters, weeks=weeks, added=[added],
                            settings=settings_of(request), sim_weeks=sim_weeks)


@router.get("/training", response_model=SecondLanguageReport)
async def get_training(
    request: Request, db: SessionDep, filters: Filters, weeks: Weeks = 12, sim_weeks: SimWeeks = 8
) -> SecondLanguageReport:
    """Second languages to train, ranked by unfilled requests removed per week (chaining)."""
    return await _in_worker(request, db, headcount.training_report, filters=filters, weeks=weeks,
                            settings=settings_of(request), sim_weeks=sim_weeks)
