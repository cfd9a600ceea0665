"""`videodolmetschen report …`: the same service functions as the API, printed or written to files."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings, get_settings
from broker.enums import Media, OfficeKind, RequestMode
from broker.errors import Invalid
from broker.ledger import rollup
from broker.report import export, planning, rankings, service, timekeys
from broker.report.schemas import Grouping, PlanningParams, ReportFilters

report_app = typer.Typer(
    help="Usage reports, planning and exports (same numbers as the dashboard).", no_args_is_help=True
)
T = TypeVar("T")


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


From = Annotated[str | None, typer.Option("--from", help="First day YYYY-MM-DD (local), inclusive")]
To = Annotated[str | None, typer.Option("--to", help="Last day YYYY-MM-DD (local), inclusive")]
Offices = Annotated[list[int] | None, typer.Option("--office", help="Office id (repeatable)")]
Kinds = Annotated[list[OfficeKind] | None, typer.Option("--office-kind")]
Districts = Annotated[list[str] | None, typer.Option("--district", help="District AGS")]
Languages = Annotated[list[str] | None, typer.Option("--language", help="Language code")]
Purposes = Annotated[list[str] | None, typer.Option("--purpose")]
Modes = Annotated[list[RequestMode] | None, typer.Option("--mode")]
Medias = Annotated[list[Media] | None, typer.Option("--media")]
Fmt = Annotated[OutputFormat, typer.Option("--format", "-f")]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="File to write (stdout if omitted)")]


def _filters(
    date_from: str | None,
    date_to: str | None,
    offices: list[int] | None,
    kinds: list[OfficeKind] | None,
    districts: list[str] | None,
    languages: list[str] | None,
    purposes: list[str] | None,
    modes: list[RequestMode] | None,
    media: list[Media] | None,
) -> ReportFilters:
    try:
        return ReportFilters.model_validate(
            {
                "from": date.fromisoformat(date_from) if date_from else None,
                "to": date.fromisoformat(date_to) if date_to else None,
                "office_id": offices or [],
                "office_kind": kinds or [],
                "district": districts or [],
                "language": languages or [],
                "purpose": purposes or [],
                "mode": modes or [],
                "media": media or [],
            }
        )
    except ValidationError as exc:
        # One line per problem, named by its option, not pydantic's dump of the whole input.
        for issue in exc.errors():
            field = next((str(part) for part in reversed(issue["loc"]) if isinstance(part, str)), None)
            where = f"--{field.replace('_', '-')}: " if field else ""
            typer.secho(f"Bad filter: {where}{issue['msg']}", fg="red", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.secho(f"Bad filter: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _run(work: Callable[[AsyncSession], Awaitable[T]], settings: Settings | None = None) -> T:
    from broker.database import make_engine, make_sessionmaker

    async def go() -> T:
        engine = make_engine(settings or get_settings())
        try:
            async with make_sessionmaker(engine)() as db:
                return await work(db)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except service.ReportInputError as exc:
        typer.secho(f"{exc.message}\nAllowed: {', '.join(exc.allowed)}", fg="red", err=True)
        raise typer.Exit(2) from exc
    except Invalid as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(2) from exc


def _emit(
    header: list[str],
    rows: Iterable[dict[str, Any]],
    fmt: OutputFormat,
    output: Path | None,
    name: str,
    models: list[BaseModel] | BaseModel | None = None,
) -> None:
    rows = list(rows)
    if fmt is OutputFormat.XLSX:
        if output is None:
            typer.secho("--format xlsx needs --output FILE", fg="red", err=True)
            raise typer.Exit(2)
        with output.open("wb") as target:
            shutil.copyfileobj(export.xlsx_file(header, rows, title=name), target)
        typer.echo(f"Wrote {len(rows)} rows to {output}", err=True)
        return
    if fmt is OutputFormat.JSON:
        if isinstance(models, BaseModel):
            text = models.model_dump_json(indent=2)
        else:
            text = "[" + ",\n".join(m.model_dump_json() for m in models or []) + "]"
    elif fmt is OutputFormat.CSV:
        text = "".join(export.csv_chunks(header, rows))
    else:
        text = _table(header, rows)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _table(header: list[str], rows: list[dict[str, Any]]) -> str:
    cells = [[("" if row.get(h) is None else str(row.get(h))) for h in header] for row in rows]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines) + "\n"


@report_app.command("usage")
def usage(
    group_by: Annotated[list[Grouping] | None, typer.Option("--group-by", "-g")] = None,
    date_from: From = None,
    date_to: To = None,
    office: Offices = None,
    office_kind: Kinds = None,
    district: Districts = None,
    language: Languages = None,
    purpose: Purposes = None,
    mode: Modes = None,
    media: Medias = None,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
    suppress: Annotated[bool, typer.Option(help="Hide counts below VD_REPORT_MIN_CELL_COUNT")] = False,
) -> None:
    """Usage figures grouped by language, office, district, purpose, month, week, weekday_hour …"""
    filters = _filters(date_from, date_to, office, office_kind, district, language, purpose, mode, media)
    groups = group_by or [Grouping.LANGUAGE]
    report = _run(lambda db: service.usage_report(db=db, filters=filters, group_by=groups))
    min_count = get_settings().report_min_cell_count if suppress else 0
    header, rows = export.usage_table(report, min_count=min_count)
    if fmt is OutputFormat.TABLE:
        keys = header[: header.index("requests")]
        keep = [
            *keys,
            "requests",
            "sessions",
            "talk_minutes",
            "wait_median_s",
            "wait_p90_s",
            "fill_rate",
            "unmet",
            "unmet_share",
            "no_shows",
            "late_cancellations",
            "mean_rating",
            "problem_share",
        ]
        header = [h for h in header if h in keep]
    _emit(header, rows, fmt, output, "usage", report)


@report_app.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Recompute the usage roll-up from the ledger, year by year (after a restore without it, or to check)."""

    def progress(year: int, cells: int, rows: int) -> None:
        typer.echo(f"{year}: {rows:,} ledger rows in {cells:,} cells", err=True)

    async def work(db: AsyncSession) -> int:
        cells = await rollup.rebuild(db=db, progress=progress)
        await db.commit()
        return cells

    typer.echo(f"Rebuilt the usage roll-up: {_run(work):,} cells")


@report_app.command("planning")
def plan(
    date_from: From = None,
    date_to: To = None,
    language: Languages = None,
    service_level: Annotated[float, typer.Option(min=0.01, max=0.99)] = 0.8,
    answer_seconds: Annotated[float, typer.Option(min=1)] = 60.0,
    patience_seconds: Annotated[float, typer.Option(min=10, max=3600, help="Mean caller patience (Erlang A)")] = 180.0,
    slots: Annotated[bool, typer.Option(help="Every language × hour instead of the gap table")] = False,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Interpreters needed (Erlang C) vs available per language and hour of the week."""
    filters = _filters(date_from, date_to, None, None, None, language, None, None, None)
    params = PlanningParams(
        target_service_level=service_level,
        answer_seconds=answer_seconds,
        wrap_up_seconds=get_settings().wrap_up_seconds,
        patience_seconds=patience_seconds,
    )
    report = _run(lambda db: planning.planning_report(db=db, filters=filters, params=params))
    models: list[BaseModel] = list(report.slots if slots else report.gaps)
    rows = [m.model_dump(mode="json") for m in models]
    header = list(rows[0]) if rows else ["text"]
    if fmt is OutputFormat.TABLE and not slots:
        header = ["text", "gap"]
    _emit(header, rows, fmt, output, "planning", report if fmt is OutputFormat.JSON else None)


@report_app.command("unmet")
def unmet(date_from: From = None, date_to: To = None, fmt: Fmt = OutputFormat.TABLE, output: Output = None) -> None:
    """Languages ranked by unmet demand."""
    filters = _filters(date_from, date_to, None, None, None, None, None, None, None)
    ranking = _run(lambda db: rankings.unmet_ranking(db=db, filters=filters))
    rows = [r.model_dump(mode="json") for r in ranking]
    _emit(list(rows[0]) if rows else ["language"], rows, fmt, output, "unmet", list(ranking))


@report_app.command("growth")
def grow(
    by: Annotated[Grouping, typer.Option(help="office, district, language or office_kind")] = Grouping.OFFICE,
    months: Annotated[int, typer.Option(min=1, max=24)] = 6,
    date_to: To = None,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Offices (districts, languages) with the fastest-growing use."""
    filters = _filters(None, date_to, None, None, None, None, None, None, None)
    report = _run(lambda db: rankings.growth(db=db, filters=filters, by=by, months=months))
    rows = [r.model_dump(mode="json") for r in report.rows]
    _emit(list(rows[0]) if rows else ["key"], rows, fmt, output, "growth", report)


@report_app.command("pay")
def pay(date_from: From = None, date_to: To = None, fmt: Fmt = OutputFormat.TABLE, output: Output = None) -> None:
    """Sessions, minutes and late cancellations per interpreter and month."""
    filters = _filters(date_from, date_to, None, None, None, None, None, None, None)
    table = _run(lambda db: rankings.pay(db=db, filters=filters))
    rows = [r.model_dump(mode="json") for r in table]
    _emit(list(rows[0]) if rows else ["interpreter_id"], rows, fmt, output, "pay", list(table))


@report_app.command("open-data")
def open_data(date_from: From = None, date_to: To = None, output: Output = None) -> None:
    """The documented open-data CSV (small cells always suppressed)."""
    filters = _filters(date_from, date_to, None, None, None, None, None, None, None)
    min_count = max(get_settings().report_min_cell_count, 1)

    async def work(db: AsyncSession) -> str:
        today = datetime.now(UTC).astimezone(timekeys.LOCAL_TZ).date()
        return "".join(await export.open_data_csv(db=db, filters=filters, min_count=min_count, today=today))

    text = _run(work)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
