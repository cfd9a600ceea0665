"""Erlang C (M/M/N queue): interpreters needed online for a target service level.

Written here instead of pulling in pyworkforce, which drags ortools and pandas into a web
app for twenty lines of arithmetic. Probabilities go through the Erlang B recursion so large
traffic (hundreds of Erlangs) neither overflows factorials nor loses precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# No hour of this programme needs ten thousand interpreters online: the staffing search stops
# there, so absurd traffic (from a corrupt ledger or extreme parameters) costs bounded time.
MAX_SERVERS = 10_000


def erlang_b(servers: int, traffic: float) -> float:
    """Blocking probability of an M/M/N/N system with `traffic` Erlangs offered."""
    if servers < 0 or traffic < 0:
        raise ValueError("servers and traffic must not be negative")
    blocking = 1.0
    for n in range(1, servers + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(servers: int, traffic: float) -> float:
    """Probability that an arrival has to wait (all `servers` busy); 1.0 when unstable."""
    if traffic == 0:
        return 0.0
    if servers <= traffic:
        return 1.0
    blocking = erlang_b(servers, traffic)
    return servers * blocking / (servers - traffic * (1 - blocking))


def service_level(servers: int, traffic: float, aht_seconds: float, answer_seconds: float) -> float:
    """Share of arrivals answered within `answer_seconds`."""
    if traffic == 0:
        return 1.0
    if servers <= traffic:
        return 0.0
    wait_probability = erlang_c(servers, traffic)
    return 1.0 - wait_probability * math.exp(-(servers - traffic) * answer_seconds / aht_seconds)


def average_speed_of_answer(servers: int, traffic: float, aht_seconds: float) -> float:
    """Mean wait in seconds over all arrivals (infinite when unstable)."""
    if traffic == 0:
        return 0.0
    if servers <= traffic:
        return math.inf
    return erlang_c(servers, traffic) * aht_seconds / (servers - traffic)


@dataclass(frozen=True, slots=True)
class Staffing:
    servers: int
    traffic: float
    service_level: float
    wait_probability: float
    asa_seconds: float
    occupancy: float


def required_servers(
    *,
    arrivals_per_hour: float,
    aht_seconds: float,
    target_service_level: float = 0.8,
    answer_seconds: float = 60.0,
    max_occupancy: float = 1.0,
) -> Staffing:
    """Smallest number of interpreters meeting the target (and the occupancy cap, if any)."""
    if arrivals_per_hour < 0 or aht_seconds < 0:
        raise ValueError("arrival rate and handling time must not be negative")
    if not 0 < target_service_level < 1:
        raise ValueError("target service level must lie strictly between 0 and 1")
    if not 0 < max_occupancy <= 1:
        raise ValueError("max occupancy must lie in (0, 1]")
    traffic = arrivals_per_hour * aht_seconds / 3600.0
    if traffic == 0:
        return Staffing(0, 0.0, 1.0, 0.0, 0.0, 0.0)
    # Start where the occupancy cap is already met and carry the Erlang B recursion along, so
    # each step costs O(1); the search never runs past MAX_SERVERS whatever the input.
    servers = min(max(1, math.floor(traffic) + 1, math.ceil(traffic / max_occupancy)), MAX_SERVERS)
    blocking = erlang_b(servers, traffic)
    while True:
        level = _service_level_from_blocking(servers, traffic, blocking, aht_seconds, answer_seconds)
        if servers >= MAX_SERVERS or (level >= target_service_level and traffic / servers <= max_occupancy):
            return Staffing(
                servers=servers,
                traffic=traffic,
                service_level=level,
                wait_probability=erlang_c(servers, traffic),
                asa_seconds=average_speed_of_answer(servers, traffic, aht_seconds),
                occupancy=traffic / servers,
            )
        servers += 1
        blocking = traffic * blocking / (servers + traffic * blocking)


def _service_level_from_blocking(
    servers: int, traffic: float, blocking: float, aht_seconds: float, answer_seconds: float
) -> float:
    if servers <= traffic:
        return 0.0
    wait_probability = servers * blocking / (servers - traffic * (1 - blocking))
    return 1.0 - wait_probability * math.exp(-(servers - traffic) * answer_seconds / aht_seconds)
