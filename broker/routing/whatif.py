"""What-if and training advice on the simulator (issue 15, item 10).

* `what_if`: add people (languages + weekly windows, e.g. "ti+ar, Mon–Fri 8–16") and compare
  unfilled requests per language with today's pool. Both runs use the same seeds (common random
  numbers: the same callers, bookings and answers), so the difference is the people's effect and
  not the dice.
* `second_languages`: which second language to train or recruit. Chaining (Jordan & Graves,
  1995): a little flexibility placed where it links a language with spare speakers to one that
  goes unserved removes most of what full flexibility would. Candidates: one person of a pool
  with much idle time (online minus talk, from the base run) learns one of the languages with
  the most unfilled requests; each candidate is simulated and ranked by unfilled requests
  removed per week. The number of candidates and the wall time are bounded.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.routing.results import SimulationResult
from broker.routing.scenario import Pool, Scenario, ScenarioError, Window, parse_scenario
from broker.routing.sim import SimulationLimitError, simulate
from broker.routing.summary import combine


class AddedPeople(BaseModel):
    """People to add: their languages and when they work (weekdays 0 = Monday, local hours)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: list[str] = Field(min_length=1, max_length=12)
    count: int = Field(default=1, ge=1, le=100)
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=1, max_length=7)
    start_hour: float = Field(default=8, ge=0, lt=24)
    end_hour: float = Field(default=16, gt=0, le=48)


class WhatIfLanguage(BaseModel):
    language: str
    requests_per_week: float
    unfilled_per_week_before: float
    unfilled_per_week_after: float
    change_per_week: float  # negative: fewer unfilled
    unfilled_share_before: float
    unfilled_share_after: float


class WhatIfReport(BaseModel):
    scenario: str
    added: list[AddedPeople]
    weeks: int
    languages: list[WhatIfLanguage]  # languages whose unfilled changed, biggest change first
    total_change_per_week: float


class SecondLanguage(BaseModel):
    from_profile: str  # the pool one person comes from, e.g. "ar"
    learns: str  # the language they add
    unfilled_removed_per_week: float
    text_key: str = "plan.train"


class SecondLanguageReport(BaseModel):
    scenario: str
    weeks: int
    candidates: list[SecondLanguage]  # best first
    stopped_early: bool


def parse_added(data: dict[str, Any]) -> AddedPeople:
    try:
        added = AddedPeople.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ScenarioError(".".join(str(p) for p in error["loc"]) or "add", error["msg"]) from None
    if added.end_hour <= added.start_hour:
        raise ScenarioError("end_hour", "must lie after start_hour")
    if any(not 0 <= d <= 6 for d in added.days):
        raise ScenarioError("days", "weekdays are 0 (Monday) … 6 (Sunday)")
    return added


def with_people(scenario: Scenario, added: list[AddedPeople]) -> Scenario:
    pools = list(scenario.pools) + [
        Pool(languages=a.languages, count=a.count, windows=[Window(days=a.days, start_hour=a.start_hour,
                                                                   end_hour=a.end_hour)])
        for a in added
    ]
    return parse_scenario({**scenario.model_dump(), "pools": [p.model_dump() for p in pools]})


SEEDS = 3  # replications per side: one added person's calls reshuffle who takes what, so one run is noisy


def _runs(scenario: Scenario, weeks: int, seed: int, seconds: float) -> SimulationResult:
    deadline = time.perf_counter() + seconds
    return combine([simulate(scenario, seed=seed + k, days=7.0 * weeks,
                             max_wall_seconds=max(0.5, deadline - time.perf_counter())) for k in range(SEEDS)])


def _unfilled(result: SimulationResult) -> dict[str, tuple[int, int]]:
    return {code: (result.language(code).requests, result.language(code).unfilled) for code in result.languages}


def what_if(scenario: Scenario, added: list[AddedPeople], *, weeks: int = 8, seed: int = 1,
            max_seconds: float = 60.0) -> WhatIfReport:
    """Unfilled per language with and without the added people (same seeds)."""
    changed = with_people(scenario, added)
    began = time.perf_counter()
    weeks_run = weeks * SEEDS
    before = _unfilled(_runs(scenario, weeks, seed, max_seconds))
    after = _unfilled(_runs(changed, weeks, seed, max(1.0, max_seconds - (time.perf_counter() - began))))
    rows: list[WhatIfLanguage] = []
    for code, (requests, unfilled) in before.items():
        requests_after, unfilled_after = after[code]
        if unfilled == unfilled_after:
            continue
        rows.append(WhatIfLanguage(
            language=code, requests_per_week=round(requests / weeks_run, 2),
            unfilled_per_week_before=round(unfilled / weeks_run, 2),
            unfilled_per_week_after=round(unfilled_after / weeks_run, 2),
            change_per_week=round((unfilled_after - unfilled) / weeks_run, 2),
            unfilled_share_before=round(unfilled / requests, 4) if requests else 0.0,
            unfilled_share_after=round(unfilled_after / requests_after, 4) if requests_after else 0.0))
    rows.sort(key=lambda r: (r.change_per_week, r.language))
    return WhatIfReport(scenario=scenario.name, added=added, weeks=weeks, languages=rows,
                        total_change_per_week=round(sum(r.change_per_week for r in rows), 2))


def second_languages(scenario: Scenario, *, weeks: int = 8, seed: int = 1, top_languages: int = 4,
                     top_pools: int = 3, max_seconds: float = 60.0) -> SecondLanguageReport:
    """Rank "one person of pool P learns language X" by unfilled requests removed per week."""
    began = time.perf_counter()
    base = _runs(scenario, weeks, seed, max_seconds)
    unfilled = {code: base.language(code).unfilled for code in base.languages}
    wanted = [code for code in sorted(unfilled, key=lambda c: (-unfilled[c], c)) if unfilled[code] > 0]
    wanted = wanted[:top_languages]
    # Idle hours per person of each pool (the simulator lists interpreters pool by pool, in order).
    idle: list[tuple[float, int]] = []  # loads are summed over the SEEDS replications
    offset = 0
    for index, pool in enumerate(scenario.pools):
        members = base.interpreters[offset: offset + max(1, round(pool.count * scenario.scale))]
        offset += len(members)
        if members and pool.attendance != 0:  # not a fitted stand-in for an unspoken language
            spare = sum(m.online_seconds - m.talk_seconds for m in members) / len(members) / 3600 / weeks / SEEDS
            idle.append((spare, index))
    idle.sort(reverse=True)
    chosen = [index for _, index in idle[:top_pools]]
    candidates: list[SecondLanguage] = []
    stopped = False
    for index in chosen:
        pool = scenario.pools[index]
        for code in wanted:
            if code in pool.languages:
                continue
            left = max_seconds - (time.perf_counter() - began)
            if left <= 0:
                stopped = True
                break
            trained = pool.model_copy(update={"languages": [*pool.languages, code], "count": 1})
            # The trained person takes the place of the pool's last member (same presence stream).
            pools = list(scenario.pools)
            rest = [pool.model_copy(update={"count": pool.count - 1})] if pool.count > 1 else []
            pools[index: index + 1] = [*rest, trained]
            changed = parse_scenario({**scenario.model_dump(), "pools": [p.model_dump() for p in pools]})
            try:
                result = _runs(changed, weeks, seed, left)
            except SimulationLimitError:
                stopped = True
                break
            after = sum(result.language(c).unfilled for c in result.languages)
            candidates.append(SecondLanguage(
                from_profile="+".join(pool.languages), learns=code,
                unfilled_removed_per_week=round((sum(unfilled.values()) - after) / (weeks * SEEDS), 2)))
        if stopped:
            break
    candidates.sort(key=lambda c: (-c.unfilled_removed_per_week, c.from_profile, c.learns))
    return SecondLanguageReport(scenario=scenario.name, weeks=weeks, candidates=candidates, stopped_early=stopped)
