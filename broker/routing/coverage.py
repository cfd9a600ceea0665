"""Coverage for rare languages: is anyone there, how much goes unfilled, what can we promise?

Per language and hour of the week:
* `coverage` — the probability that at least one speaker is online. From presence history it is
  the measured share of the hour with a speaker online (`broker/report/coverage.py`); from a
  scenario it is 1 − Π(1 − pᵢ) over the speakers, pᵢ = attendance × share of the hour their
  windows cover (attendance is drawn per person and shift, independently, as the simulator does).
* `unfilled` — the expected share of requests nobody takes: (1 − coverage) (nobody there; a
  speaker coming online within the maximum wait is ignored) plus coverage × P(every speaker
  online stays busy past the maximum wait), the latter by Erlang C with the mean number of
  speakers online when anyone is (at least one) and the language's offered load.
* response tiers — the shortest promise among 2 min / 15 min / 2 h / 1 day (SAVD's tiers) that
  a share `tier_target` of the language's requests (weighted by demand) would meet. Within
  2 and 15 minutes: a speaker is online and free within that time (Erlang C tail as above);
  within 2 h and 1 day: someone is online in one of the hours until then, treating the hours
  as independent (optimistic where the same people are missing for days).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from broker.report import erlang
from broker.routing.compiled import CompiledScenario
from broker.routing.scenario import HOURS_PER_WEEK, Scenario

TIERS: tuple[tuple[str, float], ...] = (("2min", 120.0), ("15min", 900.0), ("2h", 7_200.0), ("1d", 86_400.0))
NO_TIER = "none"


@dataclass(frozen=True, slots=True)
class LanguageCoverage:
    code: str
    requests_per_week: float
    coverage: list[float]  # per hour of the week
    unfilled: list[float]  # expected unfilled share per hour of the week
    speakers_online: list[float]  # expected speakers online per hour
    mean_coverage: float  # weighted by the language's demand (plain mean without demand)
    mean_unfilled: float
    tier: str  # one of TIERS' names or NO_TIER
    reach: dict[str, float]  # per tier: the demand-weighted share reached within it


def busy_past(speakers: float, traffic: float, aht_seconds: float, seconds: float) -> float:
    """P(wait > seconds) for a covered request: Erlang C with ⌊speakers⌋ (at least one) servers."""
    if traffic <= 0:
        return 0.0
    servers = max(1, math.floor(speakers + 1e-9))
    if servers <= traffic:
        return 1.0
    waiting = erlang.erlang_c(servers, traffic)
    return min(1.0, waiting * math.exp(-(servers - traffic) * seconds / aht_seconds))


def language_coverage(
    *,
    code: str,
    coverage: Sequence[float],
    speakers_online: Sequence[float],
    arrivals: Sequence[float],
    aht_seconds: float,
    max_wait_seconds: float,
    tier_target: float,
) -> LanguageCoverage:
    """Unfilled shares and the response tier from per-hour coverage and demand (arrivals per hour)."""
    unfilled: list[float] = []
    short: dict[str, list[float]] = {name: [] for name, _ in TIERS}
    for how in range(HOURS_PER_WEEK):
        cover = min(1.0, max(0.0, coverage[how]))
        traffic = arrivals[how] * aht_seconds / 3600.0
        # speakers online given that anyone is: E[N] / P(N ≥ 1)
        present = speakers_online[how] / cover if cover > 0 else 0.0
        unfilled.append((1 - cover) + cover * busy_past(present, traffic, aht_seconds, max_wait_seconds))
        for name, seconds in TIERS:
            if seconds < 3_600:
                within = cover * (1 - busy_past(present, traffic, aht_seconds, seconds))
            else:
                missing = 1.0
                for ahead in range(int(seconds // 3_600) + 1):
                    missing *= 1 - min(1.0, max(0.0, coverage[(how + ahead) % HOURS_PER_WEEK]))
                within = 1 - missing
            short[name].append(within)
    total = sum(arrivals)
    weights = list(arrivals) if total > 0 else [1.0] * HOURS_PER_WEEK
    norm = sum(weights)

    def mean(values: Sequence[float]) -> float:
        return sum(w * v for w, v in zip(weights, values, strict=True)) / norm

    reach = {name: round(mean(values), 4) for name, values in short.items()}
    tier = next((name for name, _ in TIERS if reach[name] >= tier_target), NO_TIER)
    return LanguageCoverage(
        code=code, requests_per_week=round(total, 2), coverage=[round(min(1.0, c), 4) for c in coverage],
        unfilled=[round(u, 4) for u in unfilled], speakers_online=[round(s, 3) for s in speakers_online],
        mean_coverage=round(mean([min(1.0, c) for c in coverage]), 4), mean_unfilled=round(mean(unfilled), 4),
        tier=tier, reach=reach)


def presence_probabilities(compiled: CompiledScenario) -> list[list[float]]:
    """Per compiled interpreter: P(online) in each hour of the week (window attendance × share of the hour)."""
    out: list[list[float]] = []
    for person in compiled.interpreters:
        hours = [0.0] * HOURS_PER_WEEK
        for day, start, end, attendance in person.windows:
            for hour in range(math.floor(start), math.ceil(end)):
                share = min(end, hour + 1) - max(start, hour)
                if share > 0:
                    how = (day * 24 + hour) % HOURS_PER_WEEK
                    hours[how] = min(1.0, hours[how] + attendance * share)
        out.append(hours)
    return out


def scenario_coverage(scenario: Scenario, compiled: CompiledScenario, *, tier_target: float = 0.9,
                      languages: Sequence[str] | None = None) -> list[LanguageCoverage]:
    """Coverage per language from the scenario's presence windows and attendance (the bench's source)."""
    presence = presence_probabilities(compiled)
    out: list[LanguageCoverage] = []
    wanted = set(languages) if languages is not None else None
    for index, code in enumerate(compiled.codes):
        if wanted is not None and code not in wanted:
            continue
        missing = [1.0] * HOURS_PER_WEEK
        speakers = [0.0] * HOURS_PER_WEEK
        for person, hours in zip(compiled.interpreters, presence, strict=True):
            if index in person.languages:
                for how, p in enumerate(hours):
                    missing[how] *= 1 - p
                    speakers[how] += p
        out.append(language_coverage(
            code=code, coverage=[1 - m for m in missing], speakers_online=speakers,
            arrivals=compiled.on_demand[index],
            aht_seconds=compiled.talk_seconds[index] + scenario.service.wrap_up_seconds,
            max_wait_seconds=scenario.service.max_wait_seconds, tier_target=tier_target))
    return out
