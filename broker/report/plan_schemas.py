"""API models of the simulator-based planning: coverage, head-count plan, what-if (issue 15, items 8–12)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from broker.report.schemas import ReportFilters

COVERAGE_ASSUMPTION = (
    "Coverage: share of the hour with at least one speaker online (presence history). Unfilled: nobody "
    "online, or every speaker online busy past the maximum wait (Erlang C with the speakers online). "
    "Tiers 2 h and 1 day treat the hours as independent."
)


class CoverageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Share of a language's requests a response tier must reach (SAVD-style promises).
    tier_target: float = Field(default=0.9, ge=0.5, le=0.999)
    max_wait_seconds: float = Field(default=180.0, gt=0, le=86_400)
    wrap_up_seconds: float = Field(default=30.0, ge=0, le=3600)


class CoverageLanguage(BaseModel):
    language: str
    language_name: str
    requests_per_week: float
    coverage: float  # demand-weighted P(at least one speaker online)
    unfilled_share: float  # demand-weighted expected unfilled share
    tier: str  # "2min", "15min", "2h", "1d" or "none"
    reach: dict[str, float]  # per tier: share of requests reached within it
    hours_coverage: list[float]  # 168 values, hour 0 = Monday 00–01 local
    hours_unfilled: list[float]


class CoverageReport(BaseModel):
    filters: ReportFilters | None
    params: CoverageParams
    source: str  # "presence", "windows" or "scenario"
    assumption: str = COVERAGE_ASSUMPTION
    languages: list[CoverageLanguage]
