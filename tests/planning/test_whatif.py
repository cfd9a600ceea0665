"""What-if and second-language advice (broker/routing/whatif.py) on a small two-language pool."""

from __future__ import annotations

import pytest

from broker.routing.scenario import Scenario, ScenarioError, parse_scenario
from broker.routing.whatif import parse_added, second_languages, what_if

ALWAYS = {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 0, "end_hour": 24}
OFFICE = {"days": [0, 1, 2, 3, 4], "start_hour": 8, "end_hour": 16}


def _scenario() -> Scenario:
    """Arabic: two speakers around the clock with time to spare. Tigrinya: one speaker in office hours
    only, but requests around the clock, so most Tigrinya requests at night and at weekends go unfilled."""
    return parse_scenario({
        "name": "small",
        "languages": [{"code": "ar"}, {"code": "ti"}],
        "demand": {"on_demand_per_month": 300, "booked_per_month": 0},
        "pools": [{"languages": ["ar"], "count": 2, "windows": [ALWAYS]},
                  {"languages": ["ti"], "windows": [OFFICE]}],
    })


def test_adding_a_night_speaker_lowers_unfilled_of_that_language() -> None:
    """One more Tigrinya speaker around the clock: Tigrinya's unfilled requests fall, Arabic's stay."""
    report = what_if(_scenario(), [parse_added({"languages": ["ti"], "days": [0, 1, 2, 3, 4, 5, 6],
                                                "start_hour": 0, "end_hour": 24})], weeks=2)
    rows = {row.language: row for row in report.languages}
    assert rows["ti"].change_per_week < 0
    assert rows["ti"].unfilled_per_week_after < rows["ti"].unfilled_per_week_before
    assert "ar" not in rows  # same seeds, nobody new for Arabic: nothing changes there
    assert report.total_change_per_week == rows["ti"].change_per_week


def test_training_advice_ranks_the_idle_arabic_speaker_learning_tigrinya_first() -> None:
    """Chaining: the one candidate (an idle Arabic speaker learns Tigrinya) removes unfilled requests."""
    report = second_languages(_scenario(), weeks=2)
    best = report.candidates[0]
    assert (best.from_profile, best.learns) == ("ar", "ti")
    assert best.unfilled_removed_per_week > 0
    assert not report.stopped_early


@pytest.mark.parametrize(("data", "field"), [
    ({"languages": []}, "languages"),
    ({"languages": ["ti"], "start_hour": 16, "end_hour": 8}, "end_hour"),
    ({"languages": ["ti"], "days": [7]}, "days"),
    ({"languages": ["ti"], "count": 0}, "count"),
])
def test_bad_what_if_names_the_field(data: dict[str, object], field: str) -> None:
    """An empty language list, an end before the start, weekday 7 or nobody added is refused naming the field."""
    with pytest.raises(ScenarioError) as caught:
        parse_added(data)
    assert caught.value.field == field
