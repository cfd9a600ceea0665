"""Erlang C against published values.

Call Centre Helper's worked example ("Erlang C formula – made simple"): 100 calls in 30 min,
AHT 180 s → 10 Erlangs; target 80 % in 20 s. Published: 11 agents wait probability 68.21 %,
service level 39 %; 12 → 44.94 %; 13 → 28.53 %, 79.6 %; 14 agents → 17.41 %, 88.8 % (first
to meet the target). Textbook M/M/c: C(2, 1) = 1/3, C(3, 2) = 4/9.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.report import erlang


@pytest.mark.parametrize(
    ("servers", "wait_probability", "level"),
    [(11, 0.6821, 0.3896), (12, 0.4494, 0.6402), (13, 0.2853, 0.7956), (14, 0.1741, 0.8884)],
)
def test_call_centre_helper_example(servers: int, wait_probability: float, level: float) -> None:
    """Wait probability and service level match the published worked example to four places."""
    assert erlang.erlang_c(servers, 10.0) == pytest.approx(wait_probability, abs=5e-5)
    assert erlang.service_level(servers, 10.0, 180, 20) == pytest.approx(level, abs=5e-4)


def test_required_servers_meets_target() -> None:
    """The example needs 14 agents for 80 % in 20 s (13 reach only 79.6 %)."""
    staffing = erlang.required_servers(arrivals_per_hour=200, aht_seconds=180, answer_seconds=20)
    assert staffing.servers == 14
    assert staffing.traffic == pytest.approx(10.0)
    assert staffing.occupancy == pytest.approx(10 / 14)
    assert staffing.asa_seconds == pytest.approx(0.1741 * 180 / 4, rel=1e-3)


def test_textbook_mmc_values() -> None:
    """Exact small cases: C(2, 1) = 1/3 and C(3, 2) = 4/9; Erlang B(1, 1) = 1/2."""
    assert erlang.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang.erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang.erlang_b(1, 1.0) == pytest.approx(0.5)


def test_edge_cases() -> None:
    """No traffic needs nobody; overload never waits less than certainly; bad targets are refused."""
    assert erlang.required_servers(arrivals_per_hour=0, aht_seconds=600).servers == 0
    assert erlang.erlang_c(5, 5.0) == 1.0
    assert erlang.service_level(5, 6.0, 180, 20) == 0.0
    assert math.isinf(erlang.average_speed_of_answer(2, 3.0, 180))
    with pytest.raises(ValueError):
        erlang.required_servers(arrivals_per_hour=1, aht_seconds=60, target_service_level=1.0)


def test_large_traffic_is_stable() -> None:
    """Hundreds of Erlangs do not overflow (the Erlang B recursion avoids factorials)."""
    staffing = erlang.required_servers(arrivals_per_hour=6000, aht_seconds=300)
    assert 500 < staffing.servers < 560
    assert 0.8 <= staffing.service_level < 0.9


@given(st.floats(0.01, 200), st.floats(10, 3600), st.floats(0.05, 0.95))
def test_required_is_the_smallest_sufficient(rate: float, aht: float, target: float) -> None:
    """The answer meets the target and one interpreter fewer would not."""
    staffing = erlang.required_servers(arrivals_per_hour=rate, aht_seconds=aht, target_service_level=target)
    assert staffing.service_level >= target
    fewer = staffing.servers - 1
    assert fewer <= staffing.traffic or erlang.service_level(fewer, staffing.traffic, aht, 60) < target
