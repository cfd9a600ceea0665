"""The derived figures of a report row, defined once (definitions in docs/reports.md).

Every usage report, whichever path found its sums (roll-up cells, SQLite or PostgreSQL on ledger
rows), turns them into figures here, so a share or a mean cannot be rounded one way in one table
and another way in the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


def share(part: int, whole: int) -> float | None:
    """`part / whole` to four places; none when there is no whole to share."""
    return round(part / whole, 4) if whole else None


def of_sums(sums: Sequence[int], median: float | None, p90: float | None) -> dict[str, Any]:
    """The figures of one row from its sums (in `broker.ledger.rollup.SUM_COLUMNS` order) and wait percentiles.

    Positional rather than by name: an all-time report builds ≈ 240,000 rows, and unpacking a
    tuple is the cheapest way in.
    """
    (requests, demand, sessions, talk_seconds, requests_on_demand, sessions_on_demand, unmet, no_shows,
     late_cancellations, ratings, rating_sum, with_problems, waits_measured, waits_censored) = sums
    return {
        "requests": requests,
        "demand": demand,
        "sessions": sessions,
        "talk_minutes": round(talk_seconds / 60, 1),
        "requests_on_demand": requests_on_demand,
        "requests_booked": requests - requests_on_demand,
        "sessions_on_demand": sessions_on_demand,
        "sessions_booked": sessions - sessions_on_demand,
        "waits_measured": waits_measured,
        "waits_censored": waits_censored,
        "wait_median_s": median,
        "wait_p90_s": p90,
        "fill_rate": share(sessions, demand),
        "unmet": unmet,
        "unmet_share": share(unmet, demand),
        "no_shows": no_shows,
        "late_cancellations": late_cancellations,
        "ratings": ratings,
        "mean_rating": round(rating_sum / ratings, 2) if ratings else None,
        "with_problems": with_problems,
        "problem_share": share(with_problems, sessions),
    }


_FIELDS: dict[type[BaseModel], set[str]] = {}


def trusted(model: type[T], values: dict[str, Any]) -> T:
    """`model_construct` for values that already have every field and its declared type.

    It skips pydantic's per-field loop, a tenth of model_construct's time over 250,000 rows.
    All instances of a model share one fields-set: pydantic only ever adds a name to it when a
    field is assigned, and with every field set the name is in it already.
    """
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = set(model.model_fields)
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", fields)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance
