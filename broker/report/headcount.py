"""Head-count plan, what-if and training advice for this installation (items 9 and 10).

The scenario is fitted from the installation's ledger and presence history over the `weeks`
before the end of the chosen period (`broker/routing/fit.py`), then handed to the simulator-based
planning in `broker/routing/plan.py` and `broker/routing/whatif.py`. A scenario or parameter
problem becomes a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.errors import Invalid
from broker.report import timekeys
from broker.report.offload import compute
from broker.report.schemas import ReportFilters
from broker.routing.fit import fit_scenario
from broker.routing.plan import plan
from broker.routing.plan_models import PlanReport, PlanTarget
from broker.routing.scenario import Scenario, ScenarioError
from broker.routing.whatif import AddedPeople, SecondLanguageReport, WhatIfReport, second_languages, what_if


class PlanInputError(Invalid):
    code = "invalid_plan_input"

    def __init__(self, error: ScenarioError) -> None:
        super().__init__(f"{error.field}: {error.message}", loc=["query", error.field], field=error.field)


def _end(filters: ReportFilters, now: datetime | None) -> datetime:
    if filters.date_to is not None:
        _, end = timekeys.period_bounds(filters.date_from, filters.date_to)
        assert end is not None
        return min(end, now or datetime.now(UTC))
    return now or datetime.now(UTC)


async def fitted(*, db: AsyncSession, filters: ReportFilters, weeks: int, settings: Settings,
                 now: datetime | None = None) -> Scenario:
    try:
        return await fit_scenario(db=db, weeks=weeks, settings=settings, now=_end(filters, now))
    except ScenarioError as exc:
        raise PlanInputError(exc) from None


async def plan_report(*, db: AsyncSession, filters: ReportFilters, weeks: int, target: PlanTarget,
                      settings: Settings, now: datetime | None = None) -> PlanReport:
    """The head-count plan for all 168 hours of the week on the fitted scenario."""
    scenario = await fitted(db=db, filters=filters, weeks=weeks, settings=settings, now=now)
    try:
        return compute(settings, plan, scenario, target)
    except ScenarioError as exc:
        raise PlanInputError(exc) from None


async def what_if_report(*, db: AsyncSession, filters: ReportFilters, weeks: int, added: list[AddedPeople],
                         settings: Settings, sim_weeks: int = 8, max_seconds: float = 60.0,
                         now: datetime | None = None) -> WhatIfReport:
    """Expected change in unfilled requests per language when these people join."""
    scenario = await fitted(db=db, filters=filters, weeks=weeks, settings=settings, now=now)
    known = {lang.code for lang in scenario.languages}
    for person in added:
        unknown = [code for code in person.languages if code not in known]
        if unknown:
            raise PlanInputError(ScenarioError("language", f"no demand for {', '.join(unknown)} in the period"))
    try:
        return compute(settings, what_if, scenario, added, weeks=sim_weeks, max_seconds=max_seconds)
    except ScenarioError as exc:
        raise PlanInputError(exc) from None


async def training_report(*, db: AsyncSession, filters: ReportFilters, weeks: int, settings: Settings,
                          sim_weeks: int = 8, max_seconds: float = 60.0,
                          now: datetime | None = None) -> SecondLanguageReport:
    """Second languages to train, ranked by unfilled requests removed per week."""
    scenario = await fitted(db=db, filters=filters, weeks=weeks, settings=settings, now=now)
    return compute(settings, second_languages, scenario, weeks=sim_weeks, max_seconds=max_seconds)
