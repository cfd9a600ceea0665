"""Report rows from grouped sums and waits, built in one tight loop.

An all-time report by language × office × month has ≈ 240,000 rows, so the cost per row
decides: each row's object is made without pydantic's per-field work (`figures.trusted`: every
value already has its declared type), and every group's wait percentiles come from one
vectorised pass over all waits (`group_percentiles`).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from broker.report import figures
from broker.report.schemas import UsageRow

# One group: key values, sums in broker.ledger.rollup.SUM_COLUMNS order, counted waits as text.
Group = tuple[tuple[Any, ...], Sequence[int], str | None]

def group_percentiles(
    texts: Sequence[str | None], fractions: Sequence[float]
) -> tuple[list[list[float | None]], list[float | None]]:
    """Per fraction, each group's interpolated percentile of its comma-separated waits, and the total's.

    Same arithmetic as `service.percentile_sorted` (linear between closest ranks, rounded to 0.1)
    but over every group at once in numpy: one parse of all waits, one sort by (group, wait), and
    index arithmetic per group. An all-time report touches every counted wait of a million ledger
    rows, and per-wait Python work (split, int, sort per group) was most of its time.
    Returns (per fraction the groups' values, per fraction the total's value).
    """
    lengths = np.fromiter((t.count(",") + 1 if t else 0 for t in texts), dtype=np.int64, count=len(texts))
    joined = ",".join(t for t in texts if t)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (or raises) and stops at the first thing not a number
            waits = np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, dtype=np.int64)
    except (ValueError, DeprecationWarning) as error:
        raise ValueError("a group's waits are not comma-separated whole seconds") from error
    if len(waits) != int(lengths.sum()) or (len(waits) and (waits.min() < 0 or waits.max() >= 2**32)):
        raise ValueError("a group's waits are not comma-separated whole seconds")
    group = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    ordered = np.sort((group << 32) | waits) & 0xFFFFFFFF  # waits sorted within each group, groups in order
    starts = np.cumsum(lengths) - lengths
    present = lengths > 0
    per_group: list[list[float | None]] = []
    total: list[float | None] = []
    everything = np.sort(waits)
    for fraction in fractions:
        values = _interpolate(ordered, starts[present], lengths[present], fraction)
        column: list[float | None] = [None] * len(texts)
        for index, value in zip(np.flatnonzero(present).tolist(), values, strict=True):
            column[index] = value
        per_group.append(column)
        total.append(_interpolate(everything, np.zeros(1, np.int64), np.array([len(everything)]), fraction)[0]
                     if len(everything) else None)
    return per_group, total


def _interpolate(ordered: np.ndarray, starts: np.ndarray, lengths: np.ndarray, fraction: float) -> list[float]:
    """The percentile of each run `ordered[start:start + length]` (every length > 0), rounded as Python rounds."""
    position = fraction * (lengths - 1)
    index = position.astype(np.int64)
    low = ordered[starts + index]
    high = ordered[starts + np.minimum(index + 1, lengths - 1)]
    exact = low + (high - low) * (position - index)
    return [round(value, 1) for value in exact.tolist()]


def build(
    found: Sequence[Group], group_by_values: Sequence[str], labels: Sequence[dict[Any, str]]
) -> tuple[list[UsageRow], list[int], tuple[float | None, float | None]]:
    """Rows (in the order given), the summed sums and the median and p90 of every counted wait.

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
) -> tuple[list[UsageRow], list[int], tuple[float | None, float | None]]:
    (medians, p90s), (total_median, total_p90) = group_percentiles([text for _, _, text in found], (0.5, 0.9))
    rows: list[UsageRow] = []
    append = rows.append
    names = list(enumerate(group_by_values))
    for (key, sums, _), median, p90 in zip(found, medians, p90s, strict=True):
        values = figures.of_sums(sums, median, p90)
        values["key"] = {name: key[i] for i, name in names}
        values["label"] = {name: labels[i][key[i]] for i, name in names}
        append(figures.trusted(UsageRow, values))
    totals = [sum(column) for column in zip(*(sums for _, sums, _ in found), strict=True)] or [0] * 14
    return rows, totals, (total_median, total_p90)
