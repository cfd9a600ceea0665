"""The manager dashboard's data: each section a table and the plotly figure drawn from it.

Figures are built with plotly's Python package and sent as JSON, so the browser only calls
`Plotly.newPlot(el, fig.data, fig.layout)` with the bundled plotly.js (no CDN, no build step).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from sqlalchemy.ext.asyncio import AsyncSession

from broker.report import planning, service, timekeys
from broker.report.schemas import (
    ChartSection,
    Dashboard,
    Grouping,
    PlanningParams,
    ReportFilters,
    UsageFigures,
    UsageReport,
)

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "sessions": "Einsätze",
        "unmet": "Ungedeckter Bedarf",
        "requests": "Anfragen",
        "fill_rate": "Erfüllungsquote",
        "gap": "Fehlende Dolmetscher:innen",
        "hour": "Stunde",
    },
    "en": {
        "sessions": "Sessions",
        "unmet": "Unmet demand",
        "requests": "Requests",
        "fill_rate": "Fill rate",
        "gap": "Interpreters short",
        "hour": "Hour",
    },
}
LAYOUT = {"margin": {"l": 60, "r": 20, "t": 20, "b": 60}, "legend": {"orientation": "h"}}


def _figure(data: list[Any], **layout: Any) -> dict[str, Any]:
    figure = go.Figure(data=data, layout={**LAYOUT, **layout})
    return dict(figure.to_plotly_json())


def _table(report: UsageReport, grouping: Grouping, columns: list[str]) -> list[dict[str, Any]]:
    return [{grouping.value: row.label[grouping.value], **row.model_dump(include=set(columns))} for row in report.rows]


async def build(*, db: AsyncSession, filters: ReportFilters, params: PlanningParams, lang: str = "de") -> Dashboard:
    """Five sections: languages, monthly trend, weekday × hour heatmap, fill rate, staffing gaps."""
    t = TEXTS.get(lang, TEXTS["de"])
    sections: list[ChartSection] = []

    by_language = await service.usage_report(db=db, filters=filters, group_by=[Grouping.LANGUAGE])
    by_language.rows.sort(key=lambda r: -r.requests)
    names = [r.label["language"] for r in by_language.rows]
    columns = ["requests", "sessions", "unmet", "unmet_share", "wait_median_s", "wait_p90_s", "fill_rate"]
    sections.append(
        ChartSection(
            id="languages",
            title_key="manager.section.languages",
            columns=["language", *columns],
            rows=_table(by_language, Grouping.LANGUAGE, columns),
            figure=_figure(
                [
                    go.Bar(name=t["sessions"], x=names, y=[r.sessions for r in by_language.rows]),
                    go.Bar(name=t["unmet"], x=names, y=[r.unmet for r in by_language.rows]),
                ],
                barmode="stack",
            ),
        )
    )
    sections.append(
        ChartSection(
            id="fill_rate",
            title_key="manager.section.fill_rate",
            columns=["language", "fill_rate", "demand"],
            rows=_table(by_language, Grouping.LANGUAGE, ["fill_rate", "demand"]),
            figure=_figure(
                [go.Bar(name=t["fill_rate"], x=names, y=[r.fill_rate for r in by_language.rows])],
                yaxis={"tickformat": ".0%", "range": [0, 1]},
            ),
        )
    )

    by_month = await service.usage_report(db=db, filters=filters, group_by=[Grouping.MONTH])
    months = [str(r.key["month"]) for r in by_month.rows]
    columns = ["requests", "sessions", "talk_minutes", "unmet", "wait_median_s"]
    sections.append(
        ChartSection(
            id="trend",
            title_key="manager.section.trend",
            columns=["month", *columns],
            rows=_table(by_month, Grouping.MONTH, columns),
            figure=_figure(
                [
                    go.Scatter(
                        name=t[name],
                        x=months,
                        y=[getattr(r, name) for r in by_month.rows],
                        mode="lines+markers",
                    )
                    for name in ("requests", "sessions", "unmet")
                ]
            ),
        )
    )

    by_hour = await service.usage_report(db=db, filters=filters, group_by=[Grouping.WEEKDAY_HOUR])
    grid = [[0] * 24 for _ in range(7)]
    for row in by_hour.rows:
        weekday, hour = divmod(int(row.key["weekday_hour"]), 24)
        grid[weekday][hour] = row.requests
    weekdays = list(timekeys.WEEKDAYS_DE if lang == "de" else timekeys.WEEKDAYS_EN)
    sections.append(
        ChartSection(
            id="heatmap",
            title_key="manager.section.heatmap",
            columns=["weekday_hour", "requests", "unmet"],
            rows=_table(by_hour, Grouping.WEEKDAY_HOUR, ["requests", "unmet"]),
            figure=_figure(
                [go.Heatmap(z=grid, x=list(range(24)), y=weekdays, colorscale="Blues", name=t["requests"])],
                xaxis={"title": {"text": t["hour"]}, "dtick": 1},
                yaxis={"autorange": "reversed"},
            ),
        )
    )

    plan = await planning.planning_report(db=db, filters=filters, params=params)
    gap_grid = [[0.0] * 24 for _ in range(7)]
    for slot in plan.slots:
        if slot.gap > 0:
            gap_grid[slot.weekday][slot.hour] += slot.gap
    sections.append(
        ChartSection(
            id="gaps",
            title_key="manager.section.gaps",
            columns=["text", "need", "have", "gap"],
            rows=[g.model_dump(include={"text", "need", "have", "gap", "language"}) for g in plan.gaps[:50]],
            figure=_figure(
                [go.Heatmap(z=gap_grid, x=list(range(24)), y=weekdays, colorscale="Reds", name=t["gap"])],
                xaxis={"title": {"text": t["hour"]}, "dtick": 1},
                yaxis={"autorange": "reversed"},
            ),
        )
    )
    total = UsageFigures(**by_language.total.model_dump())
    return Dashboard(filters=filters, total=total, sections=sections)
