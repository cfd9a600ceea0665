"""A scenario turned into the flat numbers the event loop reads (rates per hour, interpreters).

Kept apart from the loop so planning can compile once and inspect the expected load.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from broker.routing.scenario import HOURS_PER_WEEK, Scenario

WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass(frozen=True, slots=True)
class CompiledInterpreter:
    languages: tuple[int, ...]
    codes: frozenset[str]
    qualification_rank: int
    windows: tuple[tuple[int, float, float, float], ...]  # (weekday, start hour, end hour, attendance)


@dataclass(frozen=True, slots=True)
class CompiledScenario:
    codes: list[str]
    on_demand: list[list[float]]  # [language][hour of week] arrivals per hour
    booked: list[list[float]]
    total_on_demand: list[float]  # per hour of week
    total_booked: list[float]
    cum_on_demand: list[list[float]]  # per hour of week: cumulative weights over languages
    cum_booked: list[list[float]]
    talk_seconds: list[float]  # mean per language
    booked_seconds: list[float]
    kinds: list[str]
    cum_kinds: list[float]
    interpreters: list[CompiledInterpreter]
    rates_by_hour: list[dict[str, float]]  # per hour of week: language code -> arrivals per hour


def _profile(scenario: Scenario) -> list[float]:
    demand = scenario.demand
    profile = []
    for how in range(HOURS_PER_WEEK):
        day, hour = divmod(how, 24)
        hours = demand.weekday_hours if day < 5 else demand.weekend_hours
        profile.append(hours[hour] * demand.day_factors[day])
    return profile


def _rates(scenario: Scenario, per_month: float, explicit: str) -> list[list[float]]:
    profile = _profile(scenario)
    norm = sum(profile) * WEEKS_PER_MONTH
    weighted = [lang for lang in scenario.languages if getattr(lang, explicit) is None]
    weight_sum = sum(lang.weight for lang in weighted)
    rates: list[list[float]] = []
    for lang in scenario.languages:
        given = getattr(lang, explicit)
        if given is not None:
            rates.append([r * scenario.scale for r in given])
        elif weight_sum > 0 and norm > 0:
            share = per_month * scenario.scale * lang.weight / weight_sum / norm
            rates.append([share * p for p in profile])
        else:
            rates.append([0.0] * HOURS_PER_WEEK)
    return rates


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    codes = [lang.code for lang in scenario.languages]
    index = {code: i for i, code in enumerate(codes)}
    on_demand = _rates(scenario, scenario.demand.on_demand_per_month, "hour_of_week_rates")
    booked = _rates(scenario, scenario.demand.booked_per_month, "booked_hour_of_week_rates")
    hours = range(HOURS_PER_WEEK)
    kinds = list(scenario.demand.office_kinds)
    interpreters: list[CompiledInterpreter] = []
    for pool in scenario.pools:
        attendance = scenario.attendance if pool.attendance is None else pool.attendance
        windows: list[tuple[int, float, float, float]] = []
        for spec in [w for name in pool.shifts for w in scenario.shifts[name]] + list(pool.windows):
            chance = attendance if spec.attendance is None else spec.attendance
            windows.extend((day, spec.start_hour, spec.end_hour, chance) for day in spec.days)
        member = CompiledInterpreter(
            languages=tuple(index[c] for c in pool.languages), codes=frozenset(pool.languages),
            qualification_rank=pool.qualification_rank, windows=tuple(windows))
        interpreters.extend([member] * max(1, round(pool.count * scenario.scale)))
    return CompiledScenario(
        codes=codes, on_demand=on_demand, booked=booked,
        total_on_demand=[sum(r[h] for r in on_demand) for h in hours],
        total_booked=[sum(r[h] for r in booked) for h in hours],
        cum_on_demand=[list(accumulate(r[h] for r in on_demand)) for h in hours],
        cum_booked=[list(accumulate(r[h] for r in booked)) for h in hours],
        talk_seconds=[lang.talk_minutes * 60 for lang in scenario.languages],
        booked_seconds=[lang.booked_minutes * 60 for lang in scenario.languages],
        kinds=kinds, cum_kinds=list(accumulate(scenario.demand.office_kinds.values())),
        interpreters=interpreters,
        rates_by_hour=[{code: on_demand[i][h] for i, code in enumerate(codes) if on_demand[i][h] > 0}
                       for h in hours],
    )
