"""`videodolmetschen report coverage | plan | what-if`: simulator-based planning, as in the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import get_settings
from broker.report import coverage, headcount
from broker.report.cli import Fmt, From, Languages, Output, OutputFormat, To, _emit, _filters, _run, report_app
from broker.report.plan_schemas import CoverageParams
from broker.report.schemas import ReportFilters
from broker.routing.plan import plan
from broker.routing.plan_models import PlanTarget
from broker.routing.scenario import ScenarioError, load_scenario
from broker.routing.whatif import parse_added, second_languages, what_if

T = TypeVar("T")


@report_app.command("coverage")
def coverage_command(
    date_from: From = None,
    date_to: To = None,
    language: Languages = None,
    tier_target: Annotated[float, typer.Option(min=0.5, max=0.999, help="Share a response tier must reach")] = 0.9,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Per language: P(a speaker is online), expected unfilled share and the response tier (presence history)."""
    filters = _filters(date_from, date_to, None, None, None, language, None, None, None)
    settings = get_settings()
    params = CoverageParams(tier_target=tier_target, max_wait_seconds=settings.max_wait_seconds,
                            wrap_up_seconds=settings.wrap_up_seconds)
    report = _run(lambda db: coverage.coverage_report(db=db, filters=filters, params=params))
    header = coverage.EXPORT_COLUMNS if fmt is not OutputFormat.TABLE else coverage.EXPORT_COLUMNS[:6]
    _emit(header, coverage.export_rows(report), fmt, output, "coverage", report if fmt is OutputFormat.JSON else None)


def _scenario_or_fit(scenario_path: Path | None) -> Any:
    """A scenario file, or `None` meaning: fit from this installation (inside the database session)."""
    if scenario_path is None:
        return None
    try:
        return load_scenario(scenario_path)
    except ScenarioError as exc:
        typer.secho(f"Scenario error in {exc.field}: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _on_scenario_or_history(scenario_path: Path | None, date_to: Any, on_scenario: Callable[[Any], T],
                            on_history: Callable[[AsyncSession, ReportFilters], Awaitable[T]]) -> T:
    """Compute on a scenario file when one is given, else on this installation's fitted history."""
    scenario = _scenario_or_fit(scenario_path)
    if scenario is not None:
        return on_scenario(scenario)
    filters = _filters(None, date_to, None, None, None, None, None, None, None)
    return _run(lambda db: on_history(db, filters))


ScenarioPath = Annotated[Path | None, typer.Option("--scenario", help="Plan a scenario TOML instead of this "
                                                   "installation's history (e.g. the shipped Thuringian month)")]
Weeks = Annotated[int, typer.Option(min=1, max=104, help="Weeks of history to fit the scenario from")]
SimWeeks = Annotated[int, typer.Option(min=1, max=52, help="Simulated weeks per compared run")]


@report_app.command("plan")
def plan_command(
    scenario_path: ScenarioPath = None,
    date_to: To = None,
    weeks: Weeks = 12,
    service_level: Annotated[float, typer.Option(min=0.5, max=0.99)] = 0.8,
    answer_seconds: Annotated[float, typer.Option(min=5, max=600)] = 60.0,
    coverage_target: Annotated[float, typer.Option("--coverage", min=0.5, max=0.99)] = 0.9,
    volume_per_week: Annotated[float, typer.Option(min=1, max=100_000)] = 40.0,
    max_seconds: Annotated[float, typer.Option(min=1, max=3_600, help="Time bound of the search")] = 60.0,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Head count per hour of the week (simulator-checked) beside the per-language Erlang C sum."""
    target = PlanTarget(service_level=service_level, answer_seconds=answer_seconds, coverage=coverage_target,
                        volume_per_week=volume_per_week, max_seconds=max_seconds)
    report = _on_scenario_or_history(
        scenario_path, date_to, lambda scenario: plan(scenario, target),
        lambda db, filters: headcount.plan_report(db=db, filters=filters, weeks=weeks, target=target,
                                                  settings=get_settings()))
    rows = [{**h.model_dump(exclude={"profiles"}), "profiles": " ".join(f"{p}:{n}" for p, n in h.profiles.items())}
            for h in report.hours]
    if fmt is OutputFormat.TABLE:
        typer.echo(f"{report.plan_hours:g} interpreter-hours a week; per-language Erlang C sum {report.erlang_hours:g}"
                   f" (ratio {report.plan_vs_erlang_ratio}); online today {report.online_hours:g}")
        typer.echo(f"fresh-seed check: largest shortfall {report.max_shortfall_pp} points; "
                   f"stopped early: {report.stop_reason or 'no'}")
    _emit(["weekday", "hour", "people", "erlang_c_sum", "online", "profiles"], rows, fmt, output, "plan",
          report if fmt is OutputFormat.JSON else None)


@report_app.command("what-if")
def what_if_command(
    add: Annotated[list[str], typer.Option("--add", help="Language of the added person (repeatable)")],
    days: Annotated[str, typer.Option(help="Weekdays, 0 = Monday, e.g. 0-4 or 0,2,4")] = "0-4",
    start_hour: Annotated[float, typer.Option(min=0, max=23.99)] = 8,
    end_hour: Annotated[float, typer.Option(min=0.01, max=48)] = 16,
    count: Annotated[int, typer.Option(min=1, max=100)] = 1,
    scenario_path: ScenarioPath = None,
    date_to: To = None,
    weeks: Weeks = 12,
    sim_weeks: SimWeeks = 8,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Expected change in unfilled requests per language if a person (languages, shift) joins."""
    try:
        if "-" in days:
            low, high = days.split("-", 1)
            day_list = list(range(int(low), int(high) + 1))
        else:
            day_list = [int(d) for d in days.split(",") if d.strip()]
        added = parse_added({"languages": add, "count": count, "days": day_list, "start_hour": start_hour,
                             "end_hour": end_hour})
    except ValueError as exc:
        field = exc.field if isinstance(exc, ScenarioError) else "days"
        typer.secho(f"{field}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    report = _on_scenario_or_history(
        scenario_path, date_to, lambda scenario: what_if(scenario, [added], weeks=sim_weeks),
        lambda db, filters: headcount.what_if_report(db=db, filters=filters, weeks=weeks, added=[added],
                                                     settings=get_settings(), sim_weeks=sim_weeks))
    rows = [r.model_dump() for r in report.languages]
    header = ["language", "requests_per_week", "unfilled_per_week_before", "unfilled_per_week_after",
              "change_per_week"]
    _emit(header, rows, fmt, output, "what-if", report if fmt is OutputFormat.JSON else None)


@report_app.command("training")
def training_command(
    scenario_path: ScenarioPath = None,
    date_to: To = None,
    weeks: Weeks = 12,
    sim_weeks: SimWeeks = 8,
    fmt: Fmt = OutputFormat.TABLE,
    output: Output = None,
) -> None:
    """Second languages to train, ranked by unfilled requests removed per week (chaining)."""
    report = _on_scenario_or_history(
        scenario_path, date_to, lambda scenario: second_languages(scenario, weeks=sim_weeks),
        lambda db, filters: headcount.training_report(db=db, filters=filters, weeks=weeks,
                                                      settings=get_settings(), sim_weeks=sim_weeks))
    rows = [c.model_dump(exclude={"text_key"}) for c in report.candidates]
    _emit(["from_profile", "learns", "unfilled_removed_per_week"], rows, fmt, output, "training",
          report if fmt is OutputFormat.JSON else None)
