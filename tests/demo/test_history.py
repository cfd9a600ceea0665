"""The demo history looks like the programme: session length, language list, consistent rows."""

from __future__ import annotations

import csv
import functools
import random
from datetime import UTC, datetime
from importlib import resources

from broker.demo import history
from broker.enums import LedgerOutcome, OfficeKind


def _codes() -> list[str]:
    with resources.files("broker.demo").joinpath("data/languages.csv").open(encoding="utf-8") as handle:
        return [row["code"] for row in csv.DictReader(handle)]


@functools.cache
def _rows() -> list[dict[str, object]]:
    codes = _codes()
    dims = history.Dimensions(
        offices=[(1, OfficeKind.IMMIGRATION_OFFICE, "16051"), (2, OfficeKind.RECEPTION_CENTRE, "16054")],
        languages=codes,
        purposes=["residence_permit", "other"],
        interpreters={code: [i + 1] for i, code in enumerate(codes)},
    )
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    return list(history.iter_ledger_rows(dims=dims, start=start, end=end, rng=random.Random(7)))


def test_the_language_list_has_the_programmes_54_languages_and_history_uses_them_all() -> None:
    """The shipped list holds 54 languages (the programme's), and half a year of history uses each."""
    codes = _codes()
    assert len(codes) == len(set(codes)) == 54
    assert {row["language_code"] for row in _rows()} == set(codes)


def test_average_session_is_about_twenty_and_a_half_minutes() -> None:
    """Sessions (rows with an interpreter connected) average 20.5 minutes ± 1, bookings about 45."""
    rows = _rows()
    sessions = [r for r in rows if r["connected_at"] is not None]
    mean_minutes = sum(int(r["talk_seconds"]) for r in sessions) / len(sessions) / 60  # type: ignore[call-overload]
    assert 19.5 <= mean_minutes <= 21.5, mean_minutes
    booked = [int(r["talk_seconds"]) for r in sessions if r["mode"].value == "booked"]  # type: ignore[attr-defined]
    assert 42 <= sum(booked) / len(booked) / 60 <= 48


def test_failed_rows_end_when_their_short_talk_ends() -> None:
    """A failed call's talk (at most 60 s) is exactly its end minus its connect time."""
    failed = [r for r in _rows() if r["outcome"] is LedgerOutcome.FAILED]
    assert failed
    for row in failed:
        talk = (row["ended_at"] - row["connected_at"]).total_seconds()  # type: ignore[operator]
        assert talk == row["talk_seconds"] <= 60
