"""The head-count plan's models: target, per-hour and per-language results, the gap list.

Kept apart from the search (`broker/routing/plan.py`) so API, CLI and dashboard read one shape.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.routing.scenario import ScenarioError

# A language with fewer requests in the check is listed but left out of `max_shortfall_pp`:
# at 200 requests the sampling error of a 90 % share is already 2 points.
MIN_CHECK_REQUESTS = 200


class PlanTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service_level: float = Field(default=0.8, ge=0.5, le=0.99)
    answer_seconds: float = Field(default=60.0, ge=5, le=600)
    coverage: float = Field(default=0.9, ge=0.5, le=0.99)
    volume_per_week: float = Field(default=40.0, ge=1, le=100_000)
    margin_pp: float = Field(default=2.0, ge=0, le=20)  # the search aims this far above the target
    search_weeks: int = Field(default=12, ge=1, le=104)
    check_weeks: int = Field(default=16, ge=1, le=520)
    max_seconds: float = Field(default=60.0, ge=1, le=3_600)
    max_rounds: int = Field(default=12, ge=1, le=200)


class PlanLanguage(BaseModel):
    language: str
    target_kind: str  # "service_level" or "coverage"
    target: float
    requests_per_week: float
    achieved_search: float
    achieved_check: float | None  # re-simulated with fresh seeds
    shortfall_pp: float | None  # (target − achieved) in percentage points, 0 when met
    check_requests: int  # requests in the check: below MIN_CHECK_REQUESTS the share is mostly noise
    unfilled_share_check: float | None


class PlanHour(BaseModel):
    weekday: int
    hour: int
    people: int  # the plan's head count
    profiles: dict[str, int]  # "ar+ku" → people
    erlang_c_sum: float  # the languages staffed one by one (Erlang C + booked Erlangs)
    online: float  # expected people online today (the scenario's presence)


class PlanGap(BaseModel):
    """Neighbouring hours of one day where the plan needs more people than are online today."""

    weekday: int
    start_hour: int
    end_hour: int
    needed: int  # the most the plan needs in these hours
    online: float  # the fewest expected online then
    short: float  # person-hours missing over these hours


class PlanReport(BaseModel):
    scenario: str
    target: PlanTarget
    hours: list[PlanHour]
    languages: list[PlanLanguage]
    plan_hours: float  # interpreter-hours per week
    erlang_hours: float
    online_hours: float
    pooling_saves_hours: float
    plan_vs_erlang_ratio: float | None
    max_shortfall_pp: float | None  # over languages with at least MIN_CHECK_REQUESTS in the check
    rounds: int
    simulations: int
    stopped_early: bool
    stop_reason: str | None
    seconds: float
    new_people: dict[str, int]  # "new person speaking X": most needed at once, per language
    gaps: list[PlanGap] = Field(default_factory=list)  # the worst first (at most ten)


def worst_gaps(hours: list[PlanHour], limit: int = 10) -> list[PlanGap]:
    """Hours where the plan needs more than are online, joined per day, worst (person-hours) first."""
    gaps: list[PlanGap] = []
    for hour in hours:
        missing = hour.people - hour.online
        if missing <= 0.05:
            continue
        last = gaps[-1] if gaps else None
        if last and last.weekday == hour.weekday and last.end_hour == hour.hour:
            last.end_hour += 1
            last.needed = max(last.needed, hour.people)
            last.online = min(last.online, hour.online)
            last.short = round(last.short + missing, 2)
            continue
        gaps.append(PlanGap(weekday=hour.weekday, start_hour=hour.hour, end_hour=hour.hour + 1, needed=hour.people,
                            online=hour.online, short=round(missing, 2)))
    gaps.sort(key=lambda g: (-g.short, g.weekday, g.start_hour))
    return gaps[:limit]


def validate_target(data: dict[str, object]) -> PlanTarget:
    """A target from outside (API, CLI): the first bad field becomes a ScenarioError naming it."""
    try:
        return PlanTarget.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ScenarioError(".".join(str(p) for p in error["loc"]) or "target", error["msg"]) from None
