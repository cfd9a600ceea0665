"""A head-count plan for a multi-skill pool: per hour of the week, the smallest set of people.

Targets (`PlanTarget`): languages with at least `volume_per_week` on-demand requests get a
service level (default 80 % answered within 60 s, over the week); every other language gets
coverage (default 90 % of its requests find a speaker online): its busiest hours are covered
until that share of its demand is reached, the quietest (night) hours are left out.

Profiles: the language sets of today's pool, plus "a new person speaking X" for every language.

Search (bounded by `max_seconds`; `stopped_early` says when it ran out):
1. a bound per hour from Erlang C: each service-level language needs its Erlang C head count
   plus its booked Erlangs, each coverage language one speaker; profiles are picked greedily by
   what one person removes from those needs (a person's capacity is split among their
   service-level languages, so two languages are never served by one person's full hour twice;
   presence counts for every coverage language they speak);
2. the simulator judges: all 168 hourly rosters become one week of one-hour shifts (people at
   attendance 1) simulated for `search_weeks`; a language below its target (plus `margin_pp`)
   gets one more speaker in the hours where it missed most, until every language passes;
3. one trim: a person is taken out of an hour where all of their service-level languages answer
   well above the target and no coverage language loses its only speaker; languages the trim
   left short are repaired as in 2 (if time runs out first, the last passing roster stands);
4. the roster is re-simulated with fresh seeds (`check_weeks`) and the shortfall per language
   reported (`max_shortfall_pp`).

Beside it: the per-language Erlang C sum (each language staffed alone, every hour with demand,
plus booked Erlangs), and the interpreter-hours pooling and the coverage target save.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from broker.report import erlang
from broker.routing.compiled import CompiledScenario, compile_scenario
from broker.routing.coverage import presence_probabilities
from broker.routing.plan_models import (
    MIN_CHECK_REQUESTS,
    PlanHour,
    PlanLanguage,
    PlanReport,
    PlanTarget,
    worst_gaps,
)
from broker.routing.results import Cell, SimulationResult
from broker.routing.scenario import HOURS_PER_WEEK, Scenario, parse_scenario
from broker.routing.sim import SimulationLimitError, simulate
from broker.routing.summary import combine

Profile = tuple[str, ...]
Roster = list[dict[Profile, int]]  # per hour of the week: people per profile
CHECK_SEED = 7_000_003  # far from the search's seeds: the check never reuses a search run


@dataclass
class _Need:
    volume: dict[str, float] = field(default_factory=dict)
    cover: set[str] = field(default_factory=set)


def profile_name(profile: Profile) -> str:
    return "+".join(profile)


def _aht(scenario: Scenario, compiled: CompiledScenario, index: int) -> float:
    return compiled.talk_seconds[index] + scenario.service.wrap_up_seconds


def classify(compiled: CompiledScenario, target: PlanTarget) -> tuple[set[str], dict[str, set[int]]]:
    """Service-level languages, and per coverage language the hours to cover (busiest first)."""
    volume: set[str] = set()
    cover_hours: dict[str, set[int]] = {}
    for i, code in enumerate(compiled.codes):
        weekly = sum(compiled.on_demand[i])
        if weekly >= target.volume_per_week:
            volume.add(code)
            continue
        weight = [compiled.on_demand[i][h] + compiled.booked[i][h] for h in range(HOURS_PER_WEEK)]
        total = sum(weight)
        if total <= 0:
            continue
        goal = min(1.0, target.coverage + target.margin_pp / 100) * total  # arrivals are random: aim higher
        chosen: set[int] = set()
        reached = 0.0
        for h in sorted(range(HOURS_PER_WEEK), key=lambda h: (-weight[h], h)):
            if reached >= goal - 1e-12 or weight[h] <= 0:
                break
            chosen.add(h)
            reached += weight[h]
        cover_hours[code] = chosen
    return volume, cover_hours


def erlang_needs(scenario: Scenario, compiled: CompiledScenario, target: PlanTarget) -> list[dict[str, float]]:
    """Per hour, per language with demand: Erlang C head count alone plus booked Erlangs."""
    out: list[dict[str, float]] = [{} for _ in range(HOURS_PER_WEEK)]
    for i, code in enumerate(compiled.codes):
        aht = _aht(scenario, compiled, i)
        for h in range(HOURS_PER_WEEK):
            rate, booked = compiled.on_demand[i][h], compiled.booked[i][h]
            if rate <= 0 and booked <= 0:
                continue
            servers = erlang.required_servers(arrivals_per_hour=rate, aht_seconds=aht,
                                              target_service_level=target.service_level,
                                              answer_seconds=target.answer_seconds).servers if rate > 0 else 0
            out[h][code] = servers + booked * compiled.booked_seconds[i] / 3600.0
    return out


def today(scenario: Scenario) -> set[Profile]:
    """Language sets of people who work at all (a fitted stand-in for an unspoken language never does)."""
    return {tuple(sorted(set(pool.languages))) for pool in scenario.pools if pool.attendance != 0}


def _profiles(scenario: Scenario, compiled: CompiledScenario) -> tuple[list[Profile], set[Profile]]:
    existing = today(scenario)
    singles = {(code,) for code in compiled.codes}
    ordered = sorted(existing, key=lambda p: (len(p), p)) + sorted(singles - existing)
    return ordered, existing


def _greedy(need: _Need, profiles: list[Profile], existing: set[Profile]) -> dict[Profile, int]:
    roster: dict[Profile, int] = defaultdict(int)
    volume = {code: n for code, n in need.volume.items() if n > 1e-9}
    cover = set(need.cover) - set(volume)
    while volume or cover:
        best: tuple[float, int, int] | None = None
        chosen: Profile | None = None
        for profile in profiles:
            load = sum(volume.get(code, 0.0) for code in profile)
            gain = min(1.0, load) + sum(1 for code in profile if code in cover)
            if gain <= 0:
                continue
            key = (gain, profile in existing, -len(profile))
            if best is None or key > best:
                best, chosen = key, profile
        if chosen is None:
            break
        roster[chosen] += 1
        load = sum(volume.get(code, 0.0) for code in chosen)
        served = min(1.0, load)
        for code in chosen:
            cover.discard(code)
            if code in volume:
                volume[code] -= served * volume[code] / load
                if volume[code] <= 1e-9:
                    del volume[code]
    return dict(roster)


def initial_roster(scenario: Scenario, compiled: CompiledScenario, volume: set[str], cover_hours: dict[str, set[int]],
                   needs: list[dict[str, float]]) -> Roster:
    profiles, existing = _profiles(scenario, compiled)
    roster: Roster = []
    for h in range(HOURS_PER_WEEK):
        need = _Need(volume={code: n for code, n in needs[h].items() if code in volume},
                     cover={code for code, hours in cover_hours.items() if h in hours})
        roster.append(_greedy(need, profiles, existing))
    return roster


def roster_scenario(scenario: Scenario, compiled: CompiledScenario, roster: Roster, weeks: int) -> Scenario:
    """The hourly rosters as one-hour shifts joined into runs, at attendance 1, demand as explicit rates."""
    pools: list[dict[str, object]] = []
    by_profile: dict[Profile, list[int]] = defaultdict(lambda: [0] * HOURS_PER_WEEK)
    for h, people in enumerate(roster):
        for profile, count in people.items():
            by_profile[profile][h] = count
    for profile, counts in by_profile.items():
        for k in range(1, max(counts) + 1):
            windows: list[dict[str, object]] = []
            for day in range(7):
                start: int | None = None
                for hour in range(25):
                    on = hour < 24 and counts[day * 24 + hour] >= k
                    if on and start is None:
                        start = hour
                    elif not on and start is not None:
                        windows.append({"days": [day], "start_hour": start, "end_hour": hour})
                        start = None
            if windows:
                pools.append({"languages": list(profile), "count": 1, "windows": windows, "attendance": 1.0})
    languages = [
        {**lang.model_dump(), "hour_of_week_rates": compiled.on_demand[i],
         "booked_hour_of_week_rates": compiled.booked[i]}
        for i, lang in enumerate(scenario.languages)
    ]
    data = scenario.model_dump()
    data.update(name=f"{scenario.name}-plan", days=7.0 * weeks, start_weekday=0, scale=1.0, attendance=1.0,
                languages=languages, pools=pools)
    return parse_scenario(data)


def _measure(result: SimulationResult, code: str, kind: str) -> tuple[float, Cell]:
    cell = result.language(code)
    if kind == "service_level":
        return cell.service_level, cell
    if not cell.requests:
        return 1.0, cell
    # Coverage as in item 8: the share of requests that found a speaker online (taken or not;
    # the unfilled share is reported beside it).
    return 1 - (cell.unfilled - cell.addressable_unfilled) / cell.requests, cell


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def _run(scenario: Scenario, compiled: CompiledScenario, roster: Roster, weeks: int, seed: int,
         target: PlanTarget, seconds: float) -> SimulationResult:
    if seconds <= 0:
        raise SimulationLimitError("no time left")
    plan = roster_scenario(scenario, compiled, roster, weeks)
    runs = [simulate(plan, seed=seed, answer_seconds=target.answer_seconds, max_wall_seconds=seconds)]
    return combine(runs)


def _failing(result: SimulationResult, kinds: dict[str, str], target: PlanTarget,
             margin: float) -> dict[str, float]:
    """Languages below target + margin: how many requests short (for sizing the repair)."""
    out: dict[str, float] = {}
    for code, kind in kinds.items():
        goal = target.service_level if kind == "service_level" else target.coverage
        achieved, cell = _measure(result, code, kind)
        if not cell.requests:
            continue
        # A few requests of a rare language say little: for coverage languages only a shortfall
        # beyond two standard errors is chased, otherwise the search would staff up for the noise
        # of single requests. Service-level languages have the volume: they must clear the margin.
        noise = 0.0 if kind == "service_level" else 2.0 * math.sqrt(goal * (1 - goal) / cell.requests)
        if achieved < goal + margin - noise:
            out[code] = (goal + margin - achieved) * cell.requests
    return out


def _repair(roster: Roster, result: SimulationResult, failing: dict[str, float], kinds: dict[str, str],
            profiles: list[Profile], existing: set[Profile], cover_hours: dict[str, set[int]]) -> int:
    """Add speakers of the failing languages in the hours where they missed most; returns people added."""
    added = 0
    for code, short in failing.items():
        cells = result.cells[code]
        if kinds[code] == "service_level":
            missed = [(cells[h].requests - cells[h].within_answer, h) for h in range(HOURS_PER_WEEK)]
        else:
            missed = [(cells[h].unfilled - cells[h].addressable_unfilled, h) for h in range(HOURS_PER_WEEK)]
            for h in sorted(range(HOURS_PER_WEEK), key=lambda h: -cells[h].requests):
                if h not in cover_hours.get(code, set()) and cells[h].requests:
                    cover_hours.setdefault(code, set()).add(h)
                    break
        missed.sort(reverse=True)
        recovered = 0.0
        for lost, h in missed:
            if lost <= 0 or recovered >= short:
                break
            others = {c for c in failing if c != code and result.cells[c][h].requests}
            candidates = [p for p in profiles if code in p]
            best = max(candidates, key=lambda p: (len(others & set(p)), p in existing, -len(p)))
            roster[h][best] = roster[h].get(best, 0) + 1
            added += 1
            recovered += lost * 0.5  # one more speaker recovers about half of what was lost there
    return added


def _trim(roster: Roster, result: SimulationResult, kinds: dict[str, str], target: PlanTarget,
          cover_hours: dict[str, set[int]], slack: float) -> Roster:
    trimmed = [dict(hour) for hour in roster]
    for h, hour in enumerate(trimmed):
        for profile in sorted(hour, key=lambda p: (-hour[p], p)):
            if hour[profile] <= 0:
                continue
            ok = True
            for code in profile:
                if kinds.get(code) == "service_level":
                    cell = result.cells[code][h]
                    if cell.requests and cell.service_level < target.service_level + slack:
                        ok = False
                elif h in cover_hours.get(code, set()):
                    ok = False  # a few requests cannot tell whether a rare language's speaker is spare
            if ok:
                hour[profile] -= 1
                if not hour[profile]:
                    del hour[profile]
    return trimmed


def plan(scenario: Scenario, target: PlanTarget | None = None, *, seed: int = 1) -> PlanReport:
    """The head-count plan for all 168 hours of the week (see the module docstring)."""
    target = target or PlanTarget()
    began = time.perf_counter()
    deadline = _Deadline(target.max_seconds)
    compiled = compile_scenario(scenario)
    volume, cover_hours = classify(compiled, target)
    kinds = {code: "service_level" for code in volume} | {code: "coverage" for code in cover_hours}
    needs = erlang_needs(scenario, compiled, target)
    profiles, existing = _profiles(scenario, compiled)
    roster = initial_roster(scenario, compiled, volume, cover_hours, needs)
    margin = target.margin_pp / 100
    rounds = simulations = 0
    stop_reason: str | None = None
    passing: Roster | None = None
    last: SimulationResult | None = None
    trimmed = False
    try:
        while True:
            if rounds >= target.max_rounds:
                stop_reason = f"max_rounds ({target.max_rounds})"
                break
            rounds += 1
            result = _run(scenario, compiled, roster, target.search_weeks, seed * 1000, target,
                          deadline.left())
            simulations += 1
            last = result
            failing = _failing(result, kinds, target, margin)
            if not failing:
                passing = [dict(hour) for hour in roster]
                if trimmed:
                    break
                trimmed = True
                roster = _trim(roster, result, kinds, target, cover_hours, slack=0.1)
                continue
            _repair(roster, result, failing, kinds, profiles, existing, cover_hours)
    except SimulationLimitError as exc:
        stop_reason = f"time limit ({target.max_seconds:g} s): {exc}"
        roster = passing or roster
    stopped_early = stop_reason is not None
    final = passing or roster
    check: SimulationResult | None = None
    try:
        check = _run(scenario, compiled, final, target.check_weeks, CHECK_SEED + seed, target,
                     max(deadline.left(), target.max_seconds / 2))
        simulations += 1
    except SimulationLimitError as exc:
        stopped_early = True
        stop_reason = (stop_reason + "; " if stop_reason else "") + f"check not finished: {exc}"
    return _report(scenario, compiled, target, final, needs, kinds, last, check, rounds, simulations,
                   stopped_early, stop_reason, time.perf_counter() - began)


def _report(scenario: Scenario, compiled: CompiledScenario, target: PlanTarget, roster: Roster,
            needs: list[dict[str, float]], kinds: dict[str, str], search: SimulationResult | None,
            check: SimulationResult | None, rounds: int, simulations: int, stopped_early: bool,
            stop_reason: str | None, seconds: float) -> PlanReport:
    presence = presence_probabilities(compiled)
    online = [sum(p[h] for p in presence) for h in range(HOURS_PER_WEEK)]
    hours = [
        PlanHour(weekday=h // 24, hour=h % 24, people=sum(roster[h].values()),
                 profiles={profile_name(p): n for p, n in sorted(roster[h].items())},
                 erlang_c_sum=round(sum(needs[h].values()), 2), online=round(online[h], 2))
        for h in range(HOURS_PER_WEEK)
    ]
    languages: list[PlanLanguage] = []
    for i, code in enumerate(compiled.codes):
        kind = kinds.get(code)
        if kind is None:
            continue
        goal = target.service_level if kind == "service_level" else target.coverage
        searched = _measure(search, code, kind)[0] if search else 0.0
        achieved: float | None = None
        unfilled: float | None = None
        checked = 0
        if check is not None:
            achieved, cell = _measure(check, code, kind)
            unfilled = round(cell.unfilled_share, 4)
            checked = cell.requests
        languages.append(PlanLanguage(
            language=code, target_kind=kind, target=goal, requests_per_week=round(sum(compiled.on_demand[i]), 2),
            achieved_search=round(searched, 4), achieved_check=None if achieved is None else round(achieved, 4),
            shortfall_pp=None if achieved is None else round(max(0.0, goal - achieved) * 100, 2),
            check_requests=checked, unfilled_share_check=unfilled))
    plan_hours = float(sum(hour.people for hour in hours))
    erlang_hours = round(sum(hour.erlang_c_sum for hour in hours), 2)
    shortfalls = [lang.shortfall_pp for lang in languages
                  if lang.shortfall_pp is not None and lang.check_requests >= MIN_CHECK_REQUESTS]
    new_people: dict[str, int] = {}
    existing = today(scenario)
    for hour_roster in roster:
        for profile, count in hour_roster.items():
            if len(profile) == 1 and profile not in existing:
                new_people[profile[0]] = max(new_people.get(profile[0], 0), count)
    return PlanReport(
        scenario=scenario.name, target=target, hours=hours, languages=languages, plan_hours=plan_hours,
        erlang_hours=erlang_hours, online_hours=round(sum(online), 2),
        pooling_saves_hours=round(erlang_hours - plan_hours, 2),
        plan_vs_erlang_ratio=round(plan_hours / erlang_hours, 4) if erlang_hours else None,
        max_shortfall_pp=max(shortfalls) if shortfalls and check is not None else None,
        rounds=rounds, simulations=simulations, stopped_early=stopped_early, stop_reason=stop_reason,
        seconds=round(seconds, 2), new_people=dict(sorted(new_people.items())), gaps=worst_gaps(hours))
