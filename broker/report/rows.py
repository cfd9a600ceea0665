"""Report rows from grouped sums and waits, built in one tight loop.

An all-time report by language × office × month has ≈ 240,000 rows, so the cost per row
decides: the figures of `service.figures` are computed inline from the row's sums (same
arithmetic, same rounding), each row's object is made without pydantic's per-field work
(every value already has its declared type), and the total's wait percentiles come from one
histogram of whole seconds instead of sorting every wait.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Sequence
from typing import Any

from broker.report.schemas import UsageRow

# One group: key values, sums in broker.ledger.rollup.SUM_COLUMNS order, counted waits as text.
Group = tuple[tuple[Any, ...], Sequence[int], str | None]

# Every row has every field set: one shared set instead of a 1 KiB set per row (pydantic only
# ever adds to it when a field is assigned, and then the name is in it already).
_ROW_FIELDS_SET = set(UsageRow.model_fields)


def _percentile(values: list[int], fraction: float) -> float:
    """As `service.percentile_sorted` (linear between closest ranks, rounded to 0.1) for a non-empty list."""
    position = fraction * (len(values) - 1)
    index = int(position)
    low = values[index]
    high = values[index + 1] if index + 1 < len(values) else low
    return round(low + (high - low) * (position - index), 1)


def histogram_percentile(histogram: Counter[int], fraction: float) -> float | None:
    """The same interpolated percentile, read from counts of whole-second waits."""
    total = sum(histogram.values())
    if not total:
        return None
    position = fraction * (total - 1)
    index = int(position)
    low: int | None = None
    high: int | None = None
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if low is None and seen > index:
            low = value
        if seen > index + 1:
            high = value
            break
    if high is None:
        high = low
    assert low is not None and high is not None
    return round(low + (high - low) * (position - index), 1)


def build(
    found: Sequence[Group], group_by_values: Sequence[str], labels: Sequence[dict[Any, str]]
) -> tuple[list[UsageRow], list[int], Counter[int]]:
    """Rows (in the order given), the summed sums and the histogram of every counted wait.

    The cyclic garbage collector is paused meanwhile: the loop makes about five containers per
    row (a million for an all-time report), none of them in a cycle, and the collector's passes
    over them were 40 % of the loop's time.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build(found, group_by_values, labels)
    finally:
        if collecting:
            gc.enable()


def _build(
    found: Sequence[Group], group_by_values: Sequence[str], labels: Sequence[dict[Any, str]]
) -> tuple[list[UsageRow], list[int], Counter[int]]:
    rows: list[UsageRow] = []
    append = rows.append
    new = UsageRow.__new__
    set_attribute = object.__setattr__
    names = list(enumerate(group_by_values))
    for key, sums, text in found:
        (requests, demand, sessions, talk, req_od, ses_od, unmet, no_shows, late, ratings, rating_sum,
         problems, measured, censored) = sums
        median: float | None = None
        p90: float | None = None
        if text:
            waits = sorted(map(int, text.split(",")))
            median, p90 = _percentile(waits, 0.5), _percentile(waits, 0.9)
        values = {
            "requests": requests,
            "demand": demand,
            "sessions": sessions,
            "talk_minutes": round(talk / 60, 1),
            "requests_on_demand": req_od,
            "requests_booked": requests - req_od,
            "sessions_on_demand": ses_od,
            "sessions_booked": sessions - ses_od,
            "waits_measured": measured,
            "waits_censored": censored,
            "wait_median_s": median,
            "wait_p90_s": p90,
            "fill_rate": round(sessions / demand, 4) if demand else None,
            "unmet": unmet,
            "unmet_share": round(unmet / demand, 4) if demand else None,
            "no_shows": no_shows,
            "late_cancellations": late,
            "ratings": ratings,
            "mean_rating": round(rating_sum / ratings, 2) if ratings else None,
            "with_problems": problems,
            "problem_share": round(problems / sessions, 4) if sessions else None,
            "key": {name: key[i] for i, name in names},
            "label": {name: labels[i][key[i]] for i, name in names},
        }
        row = new(UsageRow)
        set_attribute(row, "__dict__", values)
        set_attribute(row, "__pydantic_fields_set__", _ROW_FIELDS_SET)
        set_attribute(row, "__pydantic_extra__", None)
        set_attribute(row, "__pydantic_private__", None)
        append(row)
    # Column sums and the total's waits in C loops: one pass over a joined text, not a Counter per row.
    totals = [sum(column) for column in zip(*(sums for _, sums, _ in found), strict=True)] or [0] * 14
    joined = ",".join(text for _, _, text in found if text)
    histogram = Counter(map(int, joined.split(","))) if joined else Counter()
    return rows, totals, histogram
