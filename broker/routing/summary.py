"""Figures from simulation results: replications combined, the rarest third, one summary dict.

Used by `videodolmetschen simulate`, bench/routing.py and planning.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any

from broker.routing.compiled import CompiledScenario
from broker.routing.results import HOURS_PER_WEEK, Cell, InterpreterLoad, SimulationResult


def combine(results: Sequence[SimulationResult]) -> SimulationResult:
    """Replications of one scenario and policy (different seeds) as one result: cells summed."""
    if not results:
        raise ValueError("nothing to combine")
    first = results[0]
    cells = {code: [Cell() for _ in range(HOURS_PER_WEEK)] for code in first.languages}
    kinds: dict[str, Cell] = {}
    loads = [InterpreterLoad(languages=load.languages) for load in first.interpreters]
    waits: array[float] = array("d")
    for result in results:
        for code, row in result.cells.items():
            for total, cell in zip(cells[code], row, strict=True):
                total.add(cell)
        for kind, cell in result.office_kinds.items():
            kinds.setdefault(kind, Cell()).add(cell)
        for total_load, load in zip(loads, result.interpreters, strict=True):
            total_load.talk_seconds += load.talk_seconds
            total_load.online_seconds += load.online_seconds
            total_load.calls += load.calls
        waits.extend(result.waits)
    return SimulationResult(
        scenario=first.scenario, policy=first.policy, seed=first.seed, days=sum(r.days for r in results),
        answer_seconds=first.answer_seconds, max_wait_seconds=first.max_wait_seconds,
        languages=list(first.languages), cells=cells, interpreters=loads, waits=waits, office_kinds=kinds,
        booked=sum(r.booked for r in results), booked_missed=sum(r.booked_missed for r in results),
        callbacks=sum(r.callbacks for r in results),
        callbacks_answered=sum(r.callbacks_answered for r in results),
        events=sum(r.events for r in results), wall_seconds=sum(r.wall_seconds for r in results))


def rarest_third(compiled: CompiledScenario) -> list[str]:
    """The third of the languages with the least expected on-demand volume."""
    volume = {code: sum(compiled.on_demand[i]) for i, code in enumerate(compiled.codes)}
    ordered = sorted(compiled.codes, key=lambda code: (volume[code], code))
    return ordered[: max(1, math.ceil(len(ordered) / 3))]


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def talk_max_over_min(result: SimulationResult) -> float | None:
    """Talk minutes of the busiest over the least busy interpreter who talked at all."""
    talks = [load.talk_seconds for load in result.interpreters if load.talk_seconds > 0]
    return round(max(talks) / min(talks), 2) if talks else None


def summary(result: SimulationResult, rare: Sequence[str]) -> dict[str, Any]:
    total = result.total()
    rare_cell = Cell()
    for code in rare:
        rare_cell.add(result.language(code))
    return {
        "name": result.policy,
        "requests": total.requests,
        "within_60s": round(total.service_level, 4),
        "median_wait_s": round(result.wait_quantile(0.5), 1),
        "p90_wait_s": round(result.wait_quantile(0.9), 1),
        "unfilled_pct": _pct(total.unfilled, total.requests),
        "rare_unfilled_pct": _pct(rare_cell.unfilled, rare_cell.requests),
        "addressable_unfilled_pct": _pct(total.addressable_unfilled, total.requests),
        "rare_addressable_unfilled_pct": _pct(rare_cell.addressable_unfilled, rare_cell.requests),
        "rare_declined_unfilled_pct": _pct(rare_cell.declined_unfilled, rare_cell.requests),
        "abandoned_pct": _pct(total.abandoned, total.requests),
        "talk_minutes_max_over_min": talk_max_over_min(result),
        "talk_gini": round(result.talk_gini(), 3),
        "booked": result.booked,
        "booked_missed": result.booked_missed,
        "callbacks": result.callbacks,
        "requests_per_s": round(result.requests_per_wall_second, 1),
    }


def per_language(result: SimulationResult) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for code in result.languages:
        cell = result.language(code)
        out[code] = {"requests": cell.requests, "within_60s": round(cell.service_level, 4),
                     "unfilled_pct": _pct(cell.unfilled, cell.requests),
                     "addressable_unfilled_pct": _pct(cell.addressable_unfilled, cell.requests)}
    return out
