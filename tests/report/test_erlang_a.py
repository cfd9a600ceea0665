"""Erlang A against closed forms it must reduce to."""

from __future__ import annotations

import math

import pytest

from broker.report import erlang, erlang_a


def poisson_tail(mean: float, at_least: int) -> float:
    return 1 - sum(math.exp(-mean) * mean ** k / math.factorial(k) for k in range(at_least))


@pytest.mark.parametrize(("servers", "traffic"), [(1, 0.5), (3, 2.4), (10, 9.5), (20, 30.0)])
def test_patience_equal_to_talk_time_is_the_infinite_server_queue(servers: int, traffic: float) -> None:
    """θ = μ: everyone leaves at rate μ whether served or waiting, so the count in system is Poisson(a)."""
    aht = 600.0
    model = erlang_a.erlang_a(servers=servers, arrivals_per_hour=traffic * 3600 / aht, aht_seconds=aht,
                              patience_seconds=aht)
    assert model.wait_probability == pytest.approx(poisson_tail(traffic, servers), abs=1e-9)
    queue = sum((k - servers) * math.exp(-traffic + k * math.log(traffic) - math.lgamma(k + 1))
                for k in range(servers, 200))
    assert model.mean_queue == pytest.approx(queue, rel=1e-6)


@pytest.mark.parametrize(("servers", "traffic", "answer"), [(3, 2.4, 20.0), (5, 4.0, 60.0), (12, 10.0, 30.0)])
def test_nearly_infinite_patience_is_erlang_c(servers: int, traffic: float, answer: float) -> None:
    aht = 300.0
    arrivals = traffic * 3600 / aht
    model = erlang_a.erlang_a(servers=servers, arrivals_per_hour=arrivals, aht_seconds=aht, patience_seconds=1e8)
    level = erlang_a.service_level(servers=servers, arrivals_per_hour=arrivals, aht_seconds=aht,
                                   patience_seconds=1e8, answer_seconds=answer)
    assert model.wait_probability == pytest.approx(erlang.erlang_c(servers, traffic), abs=1e-4)
    assert level == pytest.approx(erlang.service_level(servers, traffic, aht, answer), abs=1e-4)
    assert model.abandon_probability < 1e-4


def test_overload_is_stable_and_impatience_grows_abandonment() -> None:
    """More traffic than servers: Erlang C has no answer, Erlang A does, and shorter patience loses more."""
    calm = erlang_a.erlang_a(servers=2, arrivals_per_hour=40, aht_seconds=300, patience_seconds=300)
    hasty = erlang_a.erlang_a(servers=2, arrivals_per_hour=40, aht_seconds=300, patience_seconds=60)
    assert 0 < calm.abandon_probability < hasty.abandon_probability < 1
    # flow balance: served work equals the servers' busy time, at most the servers
    assert (1 - hasty.abandon_probability) * hasty.traffic <= 2


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="servers"):
        erlang_a.erlang_a(servers=0, arrivals_per_hour=1, aht_seconds=60, patience_seconds=60)
    with pytest.raises(ValueError, match="patience"):
        erlang_a.service_level(servers=1, arrivals_per_hour=1, aht_seconds=60, patience_seconds=0,
                               answer_seconds=20)
