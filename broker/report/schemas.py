"""Pydantic shapes at the edges of the report area: filters in, tables and figures out."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from broker.enums import Media, OfficeKind, RequestMode
from broker.errors import invalid_value


class Grouping(StrEnum):
    LANGUAGE = "language"
    OFFICE = "office"
    OFFICE_KIND = "office_kind"
    DISTRICT = "district"
    PURPOSE = "purpose"
    MODE = "mode"
    MEDIA = "media"
    MONTH = "month"
    WEEK = "week"
    WEEKDAY_HOUR = "weekday_hour"


TIME_GROUPINGS = frozenset({Grouping.MONTH, Grouping.WEEK, Grouping.WEEKDAY_HOUR})

# Reports cover the programme's lifetime; outside it local-time arithmetic (year 1, 9999) breaks.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """Only `YYYY-MM-DD` (or a date): pydantic alone would read '0.0' as a Unix timestamp."""
    if isinstance(value, datetime) or (isinstance(value, str) and not _ISO_DAY.fullmatch(value)):
        raise invalid_value("date_format", "date as YYYY-MM-DD")
    if not isinstance(value, str | date):
        raise invalid_value("date_format", "date as YYYY-MM-DD")
    return value


def _in_range(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise invalid_value("date_out_of_range", f"date between {FIRST_DAY} and {LAST_DAY}",
                            first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat())
    return value


ReportDay = Annotated[date, BeforeValidator(_iso_day), AfterValidator(_in_range)]


class ReportFilters(BaseModel):
    """Which ledger rows a report covers. Dates are local (Europe/Berlin) and inclusive."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    date_from: ReportDay | None = Field(default=None, alias="from")
    date_to: ReportDay | None = Field(default=None, alias="to")
    office_id: list[int] = Field(default_factory=list)
    office_kind: list[OfficeKind] = Field(default_factory=list)
    district: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    purpose: list[str] = Field(default_factory=list)
    mode: list[RequestMode] = Field(default_factory=list)
    media: list[Media] = Field(default_factory=list)

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise invalid_value("period_order", f"'from' ({self.date_from}) must not be after 'to' ({self.date_to})")
        return self


class UsageFigures(BaseModel):
    """The figures of one report row (definitions in docs/reports.md)."""

    requests: int = 0
    demand: int = 0
    sessions: int = 0
    talk_minutes: float = 0.0
    requests_on_demand: int = 0
    requests_booked: int = 0
    sessions_on_demand: int = 0
    sessions_booked: int = 0
    waits_measured: int = 0
    # Unfilled on-demand requests, in the wait percentiles at the maximum wait they reached.
    waits_censored: int = 0
    wait_median_s: float | None = None
    wait_p90_s: float | None = None
    fill_rate: float | None = None
    unmet: int = 0
    unmet_share: float | None = None
    no_shows: int = 0
    late_cancellations: int = 0
    ratings: int = 0
    mean_rating: float | None = None
    with_problems: int = 0
    problem_share: float | None = None


class UsageRow(UsageFigures):
    key: dict[str, str | int]
    label: dict[str, str]


class UsageReport(BaseModel):
    filters: ReportFilters
    group_by: list[Grouping]
    rows: list[UsageRow]
    total: UsageFigures


class PlanningParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_service_level: float = Field(default=0.8, gt=0, lt=1)
    answer_seconds: float = Field(default=60.0, gt=0, le=3600)
    max_occupancy: float = Field(default=1.0, gt=0, le=1)
    # An interpreter stays busy after hanging up; the dispatch setting of the same name.
    wrap_up_seconds: float = Field(default=30.0, ge=0, le=3600)
    # Mean patience of a waiting caller (exponential), for the Erlang A reference figure.
    patience_seconds: float = Field(default=180.0, ge=10, le=3600)


class PlanningSlot(BaseModel):
    """One language in one hour of the week (local time)."""

    language: str
    weekday: int
    hour: int
    arrivals_per_hour: float
    aht_seconds: float
    booked_erlangs: float
    # Erlang C's whole interpreters for on-demand calls plus the booked Erlangs as they are.
    need: float
    # Shares of people: a person speaking two languages counts once, split by the hour's load.
    have_windows: float
    have_online: float
    have: float
    gap: float
    service_level_at_have: float | None


class PlanningGap(BaseModel):
    """Consecutive hours of one weekday with the same need and shortfall, for the gap table."""

    language: str
    language_name: str
    weekday: int
    start_hour: int
    end_hour: int
    need: float
    have: float
    gap: float
    text: str


class PlanningLanguage(BaseModel):
    language: str
    language_name: str
    requests: int
    arrivals_per_week: float
    aht_seconds: float
    unmet: int
    peak_need: float
    hours_short: int
    interpreters_registered: int
    # Single-language reference at the busiest hour: on-demand interpreters needed by Erlang C
    # (callers wait forever) and by Erlang A (callers give up after `patience_seconds` on average).
    peak_arrivals_per_hour: float = 0.0
    peak_erlang_c: int = 0
    peak_erlang_a: int = 0


class PlanningHour(BaseModel):
    """One hour of the week for the whole pool: the languages' needs summed, and people there."""

    weekday: int
    hour: int
    need_sum: float
    people_online: float


ERLANG_ASSUMPTIONS = {
    "erlang_c": "Erlang C (M/M/n): Poisson arrivals, exponential handling times, one language alone, "
    "callers wait as long as it takes; need = fewest interpreters answering the target share in time.",
    "erlang_a": "Erlang A (M/M/n+M): as Erlang C, but waiting callers give up after an exponential patience "
    "(mean patience_seconds); those who give up count as not answered. Shorter queues usually mean fewer "
    "interpreters than Erlang C.",
}


class PlanningReport(BaseModel):
    filters: ReportFilters
    params: PlanningParams
    assumptions: dict[str, str] = Field(default_factory=lambda: dict(ERLANG_ASSUMPTIONS))
    weeks: float
    presence_source: str
    languages: list[PlanningLanguage]
    gaps: list[PlanningGap]
    slots: list[PlanningSlot]
    hours: list[PlanningHour]


class UnmetRow(BaseModel):
    language: str
    language_name: str
    demand: int
    unmet: int
    unmet_share: float | None
    unfilled: int
    abandoned: int
    no_interpreter: int
    interpreters_registered: int


class GrowthRow(BaseModel):
    key: str
    label: str
    previous: int
    recent: int
    change: int
    change_pct: float | None


class GrowthReport(BaseModel):
    by: Grouping
    previous_from: date
    previous_to: date
    recent_from: date
    recent_to: date
    rows: list[GrowthRow]


class PayRow(BaseModel):
    interpreter_id: int
    interpreter_name: str
    month: str
    sessions: int
    talk_minutes: float
    billable_minutes: int
    late_cancellations: int


class ChartSection(BaseModel):
    """A dashboard section: the table beside the chart and the plotly figure as JSON."""

    id: str
    title_key: str
    columns: list[str]
    rows: list[dict[str, Any]]
    figure: dict[str, Any]


class Dashboard(BaseModel):
    filters: ReportFilters
    total: UsageFigures
    sections: list[ChartSection]


class FilterOption(BaseModel):
    value: str
    label: str


class ReportOptions(BaseModel):
    """Every value each filter and grouping accepts (also what a 422 lists)."""

    groupings: list[str]
    offices: list[FilterOption]
    office_kinds: list[str]
    districts: list[FilterOption]
    languages: list[FilterOption]
    purposes: list[FilterOption]
    modes: list[str]
    media: list[str]
