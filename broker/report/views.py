"""Report API under /api/reports (managers and admins only) and the bundled plotly.js."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.auth.deps import allow
from broker.config import Settings
from broker.deps import SessionDep, settings_of
from broker.enums import Media, OfficeKind, RequestMode, Role
from broker.errors import COMMON_RESPONSES, ValidationErrorRead
from broker.params import Text
from broker.report import dashboard, export, offload, opendata, planning, rankings, service, timekeys
from broker.report.schemas import (
    Dashboard,
    Grouping,
    GrowthReport,
    PayRow,
    PlanningParams,
    PlanningReport,
    ReportDay,
    ReportFilters,
    ReportOptions,
    UnmetRow,
    UsageReport,
)

T = TypeVar("T")
Format = Literal["csv", "xlsx"]
MAX_VALUES = 200  # values per repeated filter: more than any office or language list
OfficeId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Code = Annotated[Text, StringConstraints(min_length=1, max_length=40)]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file, streamed", "content": {t: {} for t in MEDIA_TYPES.values()}}
}
CSV_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"description": "The CSV file, streamed", "content": {MEDIA_TYPES["csv"]: {}}}
}

router = APIRouter(
    prefix="/api/reports",
    tags=["reports"],
    dependencies=[Depends(allow(Role.MANAGER, Role.ADMIN))],
    responses={
        **COMMON_RESPONSES,
        422: {"model": ValidationErrorRead, "description": "Bad filter, grouping or period (lists what is allowed)"},
    },
)
assets_router = APIRouter(tags=["assets"])


def _values(description: str) -> Any:
    return Query(max_length=MAX_VALUES, description=description)


def report_filters(
    date_from: Annotated[ReportDay | None, Query(alias="from", description="First day (local), inclusive")] = None,
    date_to: Annotated[ReportDay | None, Query(alias="to", description="Last day (local), inclusive")] = None,
    office_id: Annotated[list[OfficeId], _values("Office ids")] = [],  # noqa: B006 - FastAPI copies defaults
    office_kind: Annotated[list[OfficeKind], _values("Office kinds")] = [],  # noqa: B006
    district: Annotated[list[Code], _values("District keys (AGS)")] = [],  # noqa: B006
    language: Annotated[list[Code], _values("Language codes")] = [],  # noqa: B006
    purpose: Annotated[list[Code], _values("Purpose codes")] = [],  # noqa: B006
    mode: Annotated[list[RequestMode], _values("on_demand, booked")] = [],  # noqa: B006
    media: Annotated[list[Media], _values("Media")] = [],  # noqa: B006
) -> ReportFilters:
    try:
        return ReportFilters.model_validate(
            {
                "from": date_from,
                "to": date_to,
                "office_id": office_id,
                "office_kind": office_kind,
                "district": district,
                "language": language,
                "purpose": purpose,
                "mode": mode,
                "media": media,
            }
        )
    except ValidationError as exc:  # only the period's order is left to check here
        raise RequestValidationError(
            [
                {**e, "loc": ("query", "from"), "ctx": {"from": str(date_from), "to": str(date_to)}}
                for e in exc.errors(include_url=False, include_context=False)
            ]
        ) from exc


# Planning parameters within what a staffing target can mean: below 50 % answered in time or
# an occupancy cap under one half is no target, and each step outside costs computing time.
def planning_params(
    request: Request,
    service_level: Annotated[float, Query(ge=0.5, le=0.99, description="Target share answered in time")] = 0.8,
    answer_seconds: Annotated[float, Query(ge=5, le=600, description="Answered in time: within this")] = 60.0,
    max_occupancy: Annotated[float, Query(ge=0.5, le=1, description="Highest planned share of time busy")] = 1.0,
    patience_seconds: Annotated[
        float, Query(ge=10, le=3600, description="Mean patience of a waiting caller (Erlang A reference)")
    ] = 180.0,
) -> PlanningParams:
    return PlanningParams(
        target_service_level=service_level,
        answer_seconds=answer_seconds,
        max_occupancy=max_occupancy,
        patience_seconds=patience_seconds,
        wrap_up_seconds=settings_of(request).wrap_up_seconds,
    )


Filters = Annotated[ReportFilters, Depends(report_filters)]
Params = Annotated[PlanningParams, Depends(planning_params)]
GroupBy = Annotated[list[Grouping], Query(max_length=len(Grouping), description="One or more groupings")]


async def _in_worker(
    request: Request, db: AsyncSession, report: Callable[..., Awaitable[T]], *, filters: ReportFilters, **kwargs: Any
) -> T:
    """Check the filters here (a clean 404/422), then compute the report in a worker process."""
    await service.validate_filters(db=db, filters=filters)
    await db.close()  # the worker reads on its own connection: hand this one back (SQLite has one)
    settings: Settings = settings_of(request)
    return await offload.run_report(settings, report, filters=filters, **kwargs)


def _min_count(request: Request, suppress: bool) -> int:
    return int(settings_of(request).report_min_cell_count) if suppress else 0


def _download(name: str, fmt: Format, header: list[str], rows: Iterable[dict[str, Any]]) -> StreamingResponse:
    body: Iterator[str] | Iterator[bytes]
    body = (
        export.csv_chunks(header, rows)
        if fmt == "csv"
        else export.file_chunks(export.xlsx_file(header, rows, title=name))
    )
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def _model_rows(
    rows: Iterable[BaseModel], min_count: int = 0, **suppress: Any
) -> tuple[list[str], list[dict[str, Any]]]:
    dumped = [r.model_dump(mode="json") for r in rows]
    header = list(dumped[0]) if dumped else []
    if min_count:
        dumped = [export.suppress(r, min_count, **suppress) for r in dumped]
    return header, dumped


@router.get("/options", response_model=ReportOptions)
async def get_options(db: SessionDep) -> ReportOptions:
    """List every value the report filters and groupings accept."""
    return await service.options(db=db)


@router.get("/usage", response_model=UsageReport)
async def get_usage(db: SessionDep, filters: Filters, group_by: GroupBy = [Grouping.LANGUAGE]) -> UsageReport:  # noqa: B006
    """Report usage figures grouped as asked."""
    return await service.usage_report(db=db, filters=filters, group_by=group_by)


@router.get("/usage/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_usage(
    request: Request,
    db: SessionDep,
    filters: Filters,
    group_by: GroupBy = [Grouping.LANGUAGE],  # noqa: B006
    format: Format = "csv",
    suppress: bool = True,
) -> StreamingResponse:
    """Download the usage report as CSV or XLSX (small cells suppressed unless asked not to)."""
    report = await service.usage_report(db=db, filters=filters, group_by=group_by)
    header, rows = export.usage_table(report, min_count=_min_count(request, suppress))
    await db.close()  # no pooled connection held while a slow client reads
    return _download("usage", format, header, rows)


@router.get("/planning", response_model=PlanningReport)
async def get_planning(request: Request, db: SessionDep, filters: Filters, params: Params) -> PlanningReport:
    """Compare interpreters needed (Erlang C) with interpreters available per hour of the week."""
    return await _in_worker(request, db, planning.planning_report, filters=filters, params=params)


@router.get("/planning/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_planning(
    request: Request, db: SessionDep, filters: Filters, params: Params, format: Format = "csv"
) -> StreamingResponse:
    """Download the planning slots (need, have, gap per language and hour) as CSV or XLSX."""
    report = await _in_worker(request, db, planning.planning_report, filters=filters, params=params)
    header, rows = _model_rows(report.slots)
    await db.close()  # no pooled connection held while a slow client reads
    return _download("planning", format, header, rows)


@router.get("/unmet", response_model=list[UnmetRow])
async def get_unmet(db: SessionDep, filters: Filters) -> list[UnmetRow]:
    """Rank languages by unmet demand."""
    return await rankings.unmet_ranking(db=db, filters=filters)


@router.get("/unmet/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_unmet(
    request: Request, db: SessionDep, filters: Filters, format: Format = "csv", suppress: bool = True
) -> StreamingResponse:
    """Download the unmet-demand ranking as CSV or XLSX."""
    rows = await rankings.unmet_ranking(db=db, filters=filters)
    header, table = _model_rows(
        rows,
        _min_count(request, suppress),
        counts=frozenset({"demand", "unmet", "unfilled", "abandoned", "no_interpreter"}),
        derived={"unmet_share": ("unmet", "demand")},
    )
    await db.close()  # no pooled connection held while a slow client reads
    return _download("unmet", format, header, table)


@router.get("/growth", response_model=GrowthReport)
async def get_growth(
    db: SessionDep,
    filters: Filters,
    by: Annotated[Literal["office", "district", "language", "office_kind"], Query()] = "office",
    months: Annotated[int, Query(ge=1, le=24)] = 6,
) -> GrowthReport:
    """Rank offices (or districts, languages) by growth of use: recent months against the ones before."""
    return await rankings.growth(db=db, filters=filters, by=Grouping(by), months=months)


@router.get("/pay", response_model=list[PayRow])
async def get_pay(db: SessionDep, filters: Filters) -> list[PayRow]:
    """List sessions, minutes and late cancellations per interpreter and month."""
    return await rankings.pay(db=db, filters=filters)


@router.get("/pay/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_pay(db: SessionDep, filters: Filters, format: Format = "csv") -> StreamingResponse:
    """Download the interpreter pay table as CSV or XLSX."""
    header, rows = _model_rows(await rankings.pay(db=db, filters=filters))
    await db.close()  # no pooled connection held while a slow client reads
    return _download("pay", format, header, rows)


@router.get("/ledger/export", response_class=StreamingResponse, responses=DOWNLOAD)
async def export_ledger(db: SessionDep, filters: Filters, format: Format = "csv") -> StreamingResponse:
    """Download the pseudonymous ledger rows of the filter as CSV or XLSX."""
    await service.validate_filters(db=db, filters=filters)
    headers = {"Content-Disposition": f'attachment; filename="ledger.{format}"'}
    # Written to a temporary file first, then the connection goes back to the pool: streaming
    # from the cursor held SQLite's only connection (and its write lock) for as long as the
    # slowest client took to read, and a client that stalled wedged every other request.
    if format == "csv":
        handle = await export.ledger_csv_file(db=db, filters=filters)
    else:
        handle = await export.ledger_xlsx(db=db, filters=filters)
    await db.close()
    return StreamingResponse(export.file_chunks(handle), media_type=MEDIA_TYPES[format], headers=headers)


@router.get("/open-data.csv", response_class=StreamingResponse, responses=CSV_DOWNLOAD)
async def export_open_data(request: Request, db: SessionDep, filters: Filters) -> StreamingResponse:
    """Download the open-data table (month × district × office kind × language) for whole completed months."""
    period = opendata.published_period(filters, datetime.now(UTC).astimezone(timekeys.LOCAL_TZ).date())
    min_count = max(int(settings_of(request).report_min_cell_count), 1)
    # Secondary suppression is CPU work: computed in a report worker, like planning.
    rows = await _in_worker(request, db, opendata.open_data_rows, filters=period, min_count=min_count)
    return StreamingResponse(
        export.csv_chunks(opendata.COLUMNS, rows),
        media_type=MEDIA_TYPES["csv"],
        headers={"Content-Disposition": 'attachment; filename="videodolmetschen-open-data.csv"'},
    )


@router.get("/dashboard", response_model=Dashboard)
async def get_dashboard(
    request: Request,
    db: SessionDep, filters: Filters, params: Params, lang: Literal["de", "en"] = "de"
) -> Dashboard:
    """Return the dashboard's tables and plotly figures in one response."""
    return await _in_worker(request, db, dashboard.build, filters=filters, params=params, lang=lang)


@lru_cache(maxsize=1)
def _plotly_js() -> tuple[bytes, str]:
    import plotly
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode(), f'"plotly-{plotly.__version__}"'


@assets_router.get("/static/vendor/plotly.min.js", include_in_schema=False)
async def plotly_js(request: Request) -> Response:
    """Serve the plotly.js bundled with the Python package (no CDN)."""
    body, etag = _plotly_js()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
