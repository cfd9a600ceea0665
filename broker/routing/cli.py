"""`videodolmetschen simulate`: run the service simulator on a scenario or on the installation's own history."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from broker.routing.compiled import compile_scenario
from broker.routing.parallel import simulate_parallel
from broker.routing.policy import RoutingPolicy
from broker.routing.scenario import THURINGIA, Scenario, ScenarioError, load_scenario
from broker.routing.sim import SimulationLimitError, simulate
from broker.routing.summary import combine, per_language, rarest_third, summary

COLUMNS = ("name", "requests", "within_60s", "median_wait_s", "p90_wait_s", "unfilled_pct", "rare_unfilled_pct",
           "addressable_unfilled_pct", "talk_minutes_max_over_min")


def _fitted(weeks: int) -> Scenario:
    from broker.cli import _settings
    from broker.database import make_engine, make_sessionmaker
    from broker.routing.fit import fit_scenario

    settings = _settings()

    async def run() -> Scenario:
        engine = make_engine(settings)
        try:
            async with make_sessionmaker(engine)() as db:
                return await fit_scenario(db=db, weeks=weeks, settings=settings)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def simulate_command(
    scenario_path: Annotated[Path | None, typer.Option("--scenario", help="Scenario TOML (default: Thuringia)")]
    = None,
    from_ledger: Annotated[bool, typer.Option("--from-ledger", help="Fit the scenario from this installation's "
                                              "usage ledger and presence history")] = False,
    weeks: Annotated[int, typer.Option(help="With --from-ledger: weeks of history to fit", min=1, max=104)] = 12,
    policy: Annotated[list[str] | None, typer.Option(help="Policy (repeatable; default: all)")] = None,
    seed: Annotated[int, typer.Option(help="First seed")] = 1,
    seeds: Annotated[int, typer.Option(help="Replications (seeds seed, seed+1, …)", min=1, max=1000)] = 1,
    days: Annotated[float | None, typer.Option(help="Simulated days (default: the scenario's)")] = None,
    scale: Annotated[float | None, typer.Option(help="Multiply demand and interpreters")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    max_wall_seconds: Annotated[float, typer.Option(help="Give up after this much wall-clock time")] = 600.0,
    workers: Annotated[int, typer.Option(help="Processes per replication: long runs are cut into whole-week "
                                         "stretches run side by side", min=1, max=64)] = 1,
) -> None:
    """Simulate the service (arrivals, offers, talk, presence) under routing policies; print the figures."""
    try:
        scenario = _fitted(weeks) if from_ledger else load_scenario(scenario_path or THURINGIA)
        if scale is not None:
            scenario = scenario.model_copy(update={"scale": scale})
            if not 0 < scale <= 1000:
                raise ScenarioError("scale", "must lie in (0, 1000]")
        policies = [RoutingPolicy(p) for p in policy] if policy else list(RoutingPolicy)
    except ScenarioError as exc:
        typer.secho(f"Scenario error in {exc.field}: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        typer.secho(f"policy: {exc}; one of {', '.join(RoutingPolicy)}", fg="red", err=True)
        raise typer.Exit(2) from exc
    compiled = compile_scenario(scenario)
    rare = rarest_third(compiled)
    out: dict[str, Any] = {"scenario": scenario.name, "seeds": seeds, "rarest_third": rare, "policies": []}
    try:
        for chosen in policies:
            if workers > 1:
                runs = [simulate_parallel(scenario, policy=chosen, seed=seed + k, days=days, workers=workers,
                                          max_wall_seconds=max_wall_seconds) for k in range(seeds)]
            else:
                runs = [simulate(scenario, policy=chosen, seed=seed + k, days=days, compiled=compiled,
                                 max_wall_seconds=max_wall_seconds) for k in range(seeds)]
            result = combine(runs)
            row = summary(result, rare)
            row["wall_s"] = round(result.wall_seconds, 2)
            row["languages"] = per_language(result)
            out["policies"].append(row)
    except (ScenarioError, SimulationLimitError) as exc:
        typer.secho(f"Simulation stopped: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"{scenario.name}: {seeds} replication(s); rarest third: {', '.join(rare)}")
    typer.echo("  ".join(f"{c:>14}" for c in COLUMNS))
    for row in out["policies"]:
        typer.echo("  ".join(f"{row[c]!s:>14}" for c in COLUMNS))
