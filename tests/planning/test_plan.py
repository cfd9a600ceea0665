"""The head-count plan (broker/routing/plan.py) on small scenarios whose answer is known by hand."""

from __future__ import annotations

import pytest

from broker.routing.plan import plan
from broker.routing.plan_models import PlanTarget, validate_target
from broker.routing.scenario import HOURS_PER_WEEK, ScenarioError, parse_scenario

ALWAYS = {"days": [0, 1, 2, 3, 4, 5, 6], "start_hour": 0, "end_hour": 24}


def _two_rare_languages() -> dict[str, object]:
    """Two rare languages with the same small demand in every hour; today one person speaks both."""
    return {
        "name": "two-rare",
        "languages": [{"code": "ti"}, {"code": "am"}],
        "demand": {"on_demand_per_month": 8, "booked_per_month": 0},
        "pools": [{"languages": ["ti", "am"], "windows": [ALWAYS]}],
    }


def test_pooling_must_save_one_bilingual_person_covers_both() -> None:
    """Coverage target 90 % (+2 points margin) of uniform demand: the busiest 155 of 168 hours
    (0.92 × 168 = 154.6) need Tigrinya and Amharic; one ti+am person does both, while Erlang C
    staffs each language alone in all 168 hours: 155 vs 336 interpreter-hours."""
    report = plan(parse_scenario(_two_rare_languages()), PlanTarget(search_weeks=2, check_weeks=2))
    assert report.plan_hours == 155
    assert report.erlang_hours == 2 * HOURS_PER_WEEK
    assert report.plan_vs_erlang_ratio == pytest.approx(155 / 336, abs=1e-4)
    assert report.pooling_saves_hours == 336 - 155
    assert {name for hour in report.hours for name in hour.profiles} == {"am+ti"}
    assert {lang.target_kind for lang in report.languages} == {"coverage"}
    assert not report.stopped_early


def test_profiles_of_todays_pool_come_before_new_people() -> None:
    """Somali alone, so+ti and ti+am exist today: one so+ti and one ti+am person cover all three
    languages (2 per covered hour), and no "new person speaking X" is asked for."""
    data = _two_rare_languages()
    data["languages"] = [{"code": "ti"}, {"code": "am"}, {"code": "so"}]
    data["pools"] = [{"languages": ["ti", "am"], "windows": [ALWAYS]}, {"languages": ["so"], "windows": [ALWAYS]},
                     {"languages": ["so", "ti"], "windows": [ALWAYS]}]
    report = plan(parse_scenario(data), PlanTarget(search_weeks=2, check_weeks=2))
    assert max(hour.people for hour in report.hours) == 2
    assert report.new_people == {}


def test_the_search_is_bounded_in_time_and_says_so() -> None:
    """A plan with a one-second budget on a large simulated horizon stops early and says why."""
    data = _two_rare_languages()
    data["demand"] = {"on_demand_per_month": 20000, "booked_per_month": 0}
    data["pools"] = [{"languages": ["ti", "am"], "count": 30, "windows": [ALWAYS]}]
    report = plan(parse_scenario(data), PlanTarget(search_weeks=104, check_weeks=104, max_seconds=1))
    assert report.stopped_early
    assert report.stop_reason and "time limit" in report.stop_reason
    assert report.seconds < 10


def test_bad_target_names_the_field() -> None:
    """A service level of 150 % is refused naming service_level; the margin must not be negative."""
    with pytest.raises(ScenarioError) as caught:
        validate_target({"service_level": 1.5})
    assert caught.value.field == "service_level"
    with pytest.raises(ScenarioError) as negative:
        validate_target({"margin_pp": -1})
    assert negative.value.field == "margin_pp"
