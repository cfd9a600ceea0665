"""What a simulation run measured, per language and hour of the week, and the summary figures.

Waits count unfilled requests as waits of the maximum wait (they waited at least that long),
so a policy cannot look fast by leaving people unserved.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

HOURS_PER_WEEK = 168


@dataclass(slots=True)
class Cell:
    """On-demand requests of one language in one hour of the week (summed over the run)."""

    requests: int = 0
    answered: int = 0
    within_answer: int = 0  # answered within the run's `answer_seconds`
    unfilled: int = 0
    abandoned: int = 0
    addressable_unfilled: int = 0  # unfilled while a speaker of the language was online (busy)
    declined_unfilled: int = 0  # of those: a speaker was free at the end but had declined or let it ring out
    wait_seconds: float = 0.0  # sum; unfilled count as the maximum wait

    def add(self, other: Cell) -> None:
        self.requests += other.requests
        self.answered += other.answered
        self.within_answer += other.within_answer
        self.unfilled += other.unfilled
        self.abandoned += other.abandoned
        self.addressable_unfilled += other.addressable_unfilled
        self.declined_unfilled += other.declined_unfilled
        self.wait_seconds += other.wait_seconds

    @property
    def service_level(self) -> float:
        """Share answered within `answer_seconds` (1.0 without requests)."""
        return self.within_answer / self.requests if self.requests else 1.0

    @property
    def unfilled_share(self) -> float:
        return self.unfilled / self.requests if self.requests else 0.0

    @property
    def mean_wait_seconds(self) -> float:
        return self.wait_seconds / self.requests if self.requests else 0.0


@dataclass(slots=True)
class InterpreterLoad:
    languages: tuple[str, ...]
    talk_seconds: float = 0.0  # on-demand and booked
    online_seconds: float = 0.0
    calls: int = 0


@dataclass(slots=True)
class SimulationResult:
    scenario: str
    policy: str
    seed: int
    days: float
    answer_seconds: float
    max_wait_seconds: float
    languages: list[str]
    # cells[language][hour_of_week]; hour 0 = Monday 00:00-01:00 local
    cells: dict[str, list[Cell]]
    interpreters: list[InterpreterLoad]
    waits: array[float]  # one float per on-demand request, unfilled = max wait
    office_kinds: dict[str, Cell] = field(default_factory=dict)
    booked: int = 0
    booked_missed: int = 0  # no speaker free within the no-show window
    callbacks: int = 0
    callbacks_answered: int = 0
    events: int = 0
    wall_seconds: float = 0.0

    def language(self, code: str) -> Cell:
        total = Cell()
        for cell in self.cells[code]:
            total.add(cell)
        return total

    def hour(self, hour_of_week: int) -> Cell:
        total = Cell()
        for cells in self.cells.values():
            total.add(cells[hour_of_week])
        return total

    def total(self) -> Cell:
        total = Cell()
        for code in self.languages:
            total.add(self.language(code))
        return total

    def wait_quantile(self, q: float) -> float:
        if not self.waits:
            return 0.0
        ordered = sorted(self.waits)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    def talk_max_over_min(self) -> float:
        """Talk minutes of the busiest over the least busy interpreter who was online at all."""
        talks = [load.talk_seconds for load in self.interpreters if load.online_seconds > 0]
        if not talks:
            return 0.0
        low = min(talks)
        return math.inf if low == 0 else max(talks) / low

    def talk_gini(self) -> float:
        talks = sorted(load.talk_seconds for load in self.interpreters if load.online_seconds > 0)
        n, total = len(talks), sum(talks)
        if n == 0 or total == 0:
            return 0.0
        weighted = sum((i + 1) * t for i, t in enumerate(talks))
        return (2 * weighted) / (n * total) - (n + 1) / n

    @property
    def requests_per_wall_second(self) -> float:
        return self.total().requests / self.wall_seconds if self.wall_seconds > 0 else math.inf
