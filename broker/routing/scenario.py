"""What the simulator simulates: demand, interpreters, presence and the human side, validated.

A scenario is a pydantic model, read from TOML (`load_scenario`) or fitted from a real
installation (`broker/routing/fit.py`). Every absurd value is refused with a `ScenarioError`
naming the field (`pools[3].languages`, `languages[ti]`…), never a hang or a silent guess.
Planning changes scenarios with `model_copy(update=…)` (see docs/routing.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

HOURS_PER_WEEK = 168


class ScenarioError(ValueError):
    """A scenario field is missing or absurd; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[str, str]]:
        # Raised in a planning process and re-raised in the app (offload.compute): pickle by fields.
        return (type(self), (self.field, self.message))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Model):
    """The human side and the service rules (defaults: the product's settings and plausible humans)."""

    max_wait_seconds: float = Field(default=180.0, gt=0, le=86_400)
    offer_timeout_seconds: float = Field(default=20.0, gt=0, le=3_600)
    wrap_up_seconds: float = Field(default=30.0, ge=0, le=3_600)
    accept_delay_seconds: float = Field(default=8.0, ge=0, le=600)  # mean, exponential
    decline_delay_seconds: float = Field(default=5.0, ge=0, le=600)
    decline_probability: float = Field(default=0.08, ge=0, lt=1)
    no_answer_probability: float = Field(default=0.04, ge=0, lt=1)
    callback_probability: float = Field(default=0.3, ge=0, le=1)  # an unfilled caller asks for a callback
    patience_seconds: float | None = Field(default=None, gt=0)  # mean exponential patience; None: stays
    talk_distribution: Literal["lognormal", "exponential"] = "lognormal"
    talk_cv: float = Field(default=0.6, gt=0, le=5)
    max_session_minutes: float = Field(default=90.0, gt=0, le=1_440)
    break_minutes: float = Field(default=15.0, ge=0, le=480)

    @model_validator(mode="after")
    def _probabilities(self) -> Self:
        if self.decline_probability + self.no_answer_probability >= 1:
            raise ValueError("decline_probability + no_answer_probability must stay below 1")
        return self


class Language(_Model):
    code: str = Field(min_length=1, max_length=16)
    weight: float = Field(default=1.0, ge=0)  # share of the on-demand and booked volume
    talk_minutes: float = Field(default=15.0, gt=0, le=600)  # mean on-demand talk time
    booked_minutes: float = Field(default=45.0, gt=0, le=600)
    # Arrivals per hour of the week (0 = Monday 00-01 local), overriding weight × profile.
    hour_of_week_rates: list[float] | None = None
    booked_hour_of_week_rates: list[float] | None = None


class Demand(_Model):
    on_demand_per_month: float = Field(default=3000.0, ge=0, le=10_000_000)
    booked_per_month: float = Field(default=1000.0, ge=0, le=10_000_000)
    weekday_hours: list[float] = Field(default_factory=lambda: [1.0] * 24, min_length=24, max_length=24)
    weekend_hours: list[float] = Field(default_factory=lambda: [1.0] * 24, min_length=24, max_length=24)
    day_factors: list[float] = Field(default_factory=lambda: [1.0] * 7, min_length=7, max_length=7)
    # Share of requests per office kind (the simulator reports arrivals and unfilled per kind).
    office_kinds: dict[str, float] = Field(default_factory=lambda: {"other": 1.0}, min_length=1)


class Window(_Model):
    """A weekly presence window: weekdays (0 = Monday), local hours; end past 24 runs overnight."""

    days: list[int] = Field(min_length=1)
    start_hour: float = Field(ge=0, lt=24)
    end_hour: float = Field(gt=0, le=48)
    # Chance this window is worked on a given week; None: the pool's (or the scenario's) attendance.
    # A fitted scenario sets it per window: an hour someone is online in 40 % of the weeks stays 40 %.
    attendance: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _order(self) -> Self:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must lie after start_hour")
        if any(not 0 <= d <= 6 for d in self.days):
            raise ValueError("days are 0 (Monday) … 6 (Sunday)")
        return self


class Pool(_Model):
    """`count` interpreters with the same languages and presence."""

    languages: list[str] = Field(min_length=1, max_length=12)
    count: int = Field(default=1, ge=1, le=100_000)
    shifts: list[str] = Field(default_factory=list)
    windows: list[Window] = Field(default_factory=list)
    attendance: float | None = Field(default=None, ge=0, le=1)  # None: the scenario's attendance
    qualification_rank: int = Field(default=2, ge=0, le=3)


class Scenario(_Model):
    name: str = "scenario"
    days: float = Field(default=30.0, gt=0, le=3_660)
    start_weekday: int = Field(default=0, ge=0, le=6)
    scale: float = Field(default=1.0, gt=0, le=1_000)  # multiplies demand and interpreter counts
    attendance: float = Field(default=1.0, ge=0, le=1)  # chance an interpreter works a given shift
    service: Service = Field(default_factory=Service)
    demand: Demand = Field(default_factory=Demand)
    languages: list[Language] = Field(min_length=1)
    shifts: dict[str, list[Window]] = Field(default_factory=dict)
    pools: list[Pool] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_consistent(self)
        return self


def check_consistent(scenario: Scenario) -> None:
    """Cross-field rules pydantic cannot express per field (raises ScenarioError)."""
    codes = [lang.code for lang in scenario.languages]
    if len(set(codes)) != len(codes):
        raise ScenarioError("languages", "a language code appears twice")
    if not scenario.pools or sum(p.count for p in scenario.pools) == 0:
        raise ScenarioError("pools", "no interpreters: add at least one pool")
    known = set(codes)
    spoken: set[str] = set()
    for i, pool in enumerate(scenario.pools):
        for code in pool.languages:
            if code not in known:
                raise ScenarioError(f"pools[{i}].languages", f"unknown language {code!r}")
        spoken.update(pool.languages)
        for name in pool.shifts:
            if name not in scenario.shifts:
                raise ScenarioError(f"pools[{i}].shifts", f"unknown shift {name!r}")
        if not pool.shifts and not pool.windows:
            raise ScenarioError(f"pools[{i}]", "give shifts or windows: when is this pool online?")
    for lang in scenario.languages:
        for key in ("hour_of_week_rates", "booked_hour_of_week_rates"):
            rates = getattr(lang, key)
            if rates is not None and (len(rates) != HOURS_PER_WEEK or any(not r >= 0 for r in rates)):
                raise ScenarioError(f"languages[{lang.code}].{key}",
                                    f"needs {HOURS_PER_WEEK} rates, none negative")
        if _has_demand(scenario, lang) and lang.code not in spoken:
            raise ScenarioError(f"languages[{lang.code}]", "has demand but no pool speaks it")
    demand = scenario.demand
    for key in ("weekday_hours", "weekend_hours", "day_factors"):
        if any(not v >= 0 for v in getattr(demand, key)):
            raise ScenarioError(f"demand.{key}", "values must not be negative")
    if any(not v >= 0 for v in demand.office_kinds.values()) or not sum(demand.office_kinds.values()) > 0:
        raise ScenarioError("demand.office_kinds", "shares must not be negative and must not all be 0")


def _has_demand(scenario: Scenario, lang: Language) -> bool:
    if lang.hour_of_week_rates is not None and any(lang.hour_of_week_rates):
        return True
    if lang.booked_hour_of_week_rates is not None and any(lang.booked_hour_of_week_rates):
        return True
    volume = scenario.demand.on_demand_per_month + scenario.demand.booked_per_month
    return lang.weight > 0 and volume > 0 and lang.hour_of_week_rates is None


def _field_name(loc: tuple[Any, ...], data: Any) -> str:
    """pydantic's ('pools', 3, 'languages') → 'pools[3].languages'; languages by their code."""
    name = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            code = node[part].get("code") if isinstance(node, list) and isinstance(node[part], dict) else None
            name += f"[{code or part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            name += f".{part}" if name else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return name or "scenario"


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a scenario dictionary; the first problem becomes a ScenarioError naming its field."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ScenarioError):
            raise cause from None
        raise ScenarioError(_field_name(tuple(error["loc"]), data), error["msg"]) from None


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError("scenario", f"file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("scenario", f"{path} is not valid TOML: {exc}") from None
    return parse_scenario(data)


SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
THURINGIA = SCENARIO_DIR / "thueringen-month.toml"
