"""`videodolmetschen report coverage | plan | what-if`: simulator-based planning, as in the API."""

from __future__ import annotations

from typing import Annotated

import typer

from broker.config import get_settings
from broker.report import coverage
from broker.report.cli import Fmt, From, Languages, Output, OutputFormat, To, _emit, _filters, _run, report_app
from broker.report.plan_schemas import CoverageParams


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
    rows = [
        {"language": r.language, "language_name": r.language_name, "requests_per_week": r.requests_per_week,
         "coverage": r.coverage, "unfilled_share": r.unfilled_share, "tier": r.tier}
        for r in report.languages
    ]
    _emit(["language", "language_name", "requests_per_week", "coverage", "unfilled_share", "tier"], rows, fmt,
          output, "coverage", report if fmt is OutputFormat.JSON else None)
