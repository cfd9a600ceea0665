"""Routing: the policy that orders interpreters for an offer, and the simulator that runs it.

The public surface for other areas (planning builds on it; see docs/routing.md):
"""

from broker.routing.compiled import CompiledScenario, compile_scenario
from broker.routing.policy import DEFAULT_POLICY, Candidate, PoolSnapshot, RoutingPolicy, rank
from broker.routing.results import Cell, SimulationResult
from broker.routing.scenario import THURINGIA, Scenario, ScenarioError, load_scenario, parse_scenario
from broker.routing.sim import SimulationLimitError, simulate
from broker.routing.summary import combine, per_language, rarest_third, summary

__all__ = [
    "DEFAULT_POLICY", "THURINGIA", "Candidate", "Cell", "CompiledScenario", "PoolSnapshot", "RoutingPolicy",
    "Scenario", "ScenarioError", "SimulationLimitError", "SimulationResult", "combine", "compile_scenario",
    "load_scenario", "parse_scenario", "per_language", "rank", "rarest_third", "simulate", "summary",
]
