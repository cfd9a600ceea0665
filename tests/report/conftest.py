"""A small fixed ledger whose every figure is computed by hand in the tests (see test_service.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import LedgerOutcome as O
from broker.enums import Media, OfficeKind, RequestMode
from broker.interpreter.models import AvailabilityWindow
from broker.ledger.models import LedgerEntry
from tests.conftest import World

OD, BK, VID, RES = RequestMode.ON_DEMAND, RequestMode.BOOKED, Media.VIDEO, "residence_permit"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@dataclass
class Ledger:
    world: World
    interpreter_id: int


# (office, language, purpose, mode, requested_at UTC, outcome, wait, talk, rating, problems, late, media)
ROWS: list[tuple[str, str, str, RequestMode, datetime, O, int | None, int, int | None, str | None, bool, Media]] = [
    # R1, R2: Monday 09:xx local, answered
    (
        "a",
        "ar",
        "residence_permit",
        RequestMode.ON_DEMAND,
        utc(2025, 1, 6, 8, 10),
        O.COMPLETED,
        20,
        600,
        5,
        None,
        False,
        Media.VIDEO,
    ),
    (
        "a",
        "ar",
        "residence_permit",
        RequestMode.ON_DEMAND,
        utc(2025, 1, 6, 8, 40),
        O.COMPLETED,
        40,
        1200,
        3,
        "audio",
        False,
        Media.VIDEO,
    ),
    # R3: Tuesday 10:00 local, 301 s talk (billable rounds up to 6 minutes)
    (
        "a",
        "ar",
        "other",
        RequestMode.ON_DEMAND,
        utc(2025, 1, 7, 9, 0),
        O.COMPLETED,
        60,
        301,
        None,
        None,
        False,
        Media.VIDEO,
    ),
    # R4: 23:30 UTC Tuesday is Wednesday 00:30 local: nobody answered
    (
        "a",
        "ar",
        "other",
        RequestMode.ON_DEMAND,
        utc(2025, 1, 7, 23, 30),
        O.UNFILLED,
        180,
        0,
        None,
        None,
        False,
        Media.VIDEO,
    ),
    # R5: 31 Jan 23:30 UTC is Saturday 1 Feb 00:30 local: abandoned in the queue
    (
        "b",
        "uk",
        "residence_permit",
        RequestMode.ON_DEMAND,
        utc(2025, 1, 31, 23, 30),
        O.CANCELLED,
        None,
        0,
        None,
        None,
        False,
        Media.VIDEO,
    ),
    # R6: booked, held
    (
        "b",
        "uk",
        "residence_permit",
        RequestMode.BOOKED,
        utc(2025, 2, 3, 9, 0),
        O.COMPLETED,
        0,
        1800,
        4,
        None,
        False,
        Media.VIDEO,
    ),
    # R7: booked, cancelled late (not demand)
    (
        "b",
        "uk",
        "other",
        RequestMode.BOOKED,
        utc(2025, 2, 4, 9, 0),
        O.CANCELLED,
        None,
        0,
        None,
        None,
        True,
        Media.VIDEO,
    ),
    # R8: sign language, no interpreter registered
    (
        "b",
        "gsg",
        "other",
        RequestMode.ON_DEMAND,
        utc(2025, 2, 5, 10, 0),
        O.NO_INTERPRETER,
        None,
        0,
        None,
        None,
        False,
        Media.VIDEO,
    ),
    # R9: booked, no-show
    (
        "b",
        "fa",
        "residence_permit",
        RequestMode.BOOKED,
        utc(2025, 2, 6, 10, 0),
        O.NO_SHOW,
        None,
        0,
        None,
        None,
        False,
        Media.VIDEO,
    ),
    # R10: summer time: 06:30 UTC is Tuesday 08:30 local
    (
        "a",
        "fa",
        "residence_permit",
        RequestMode.ON_DEMAND,
        utc(2025, 7, 1, 6, 30),
        O.COMPLETED,
        10,
        900,
        4,
        None,
        False,
        Media.AUDIO,
    ),
]


def ledger_rows(world: World) -> list[dict[str, Any]]:
    interpreter = world.users["interpreter"].id
    offices = {"a": world.office_a, "b": world.office_b}
    rows = []
    for office_key, language, purpose, mode, at, outcome, wait, talk, rating, problems, late, media in ROWS:
        office = offices[office_key]
        connected = at + timedelta(seconds=wait or 0) if outcome is O.COMPLETED else None
        rows.append(
            {
                "office_id": office.id,
                "office_kind": OfficeKind(office.kind),
                "district_ags": office.district_ags,
                "language_code": language,
                "purpose": purpose,
                "mode": mode,
                "media": media,
                "requested_at": at,
                "connected_at": connected,
                "ended_at": connected + timedelta(seconds=talk) if connected else None,
                "wait_seconds": wait,
                "talk_seconds": talk,
                "outcome": outcome,
                "rating": rating,
                "problems": problems,
                "late_cancellation": late,
                "interpreter_id": interpreter if outcome in (O.COMPLETED, O.NO_SHOW) or late else None,
            }
        )
    return rows


@pytest.fixture
async def ledger(db: AsyncSession, world: World) -> Ledger:
    db.add_all(LedgerEntry(**row) for row in ledger_rows(world))
    # The interpreter (Arabic, Persian) keeps Monday 08:00–12:00 free.
    db.add(
        AvailabilityWindow(
            interpreter_id=world.users["interpreter"].id, weekday=0, start_time=time(8), end_time=time(12)
        )
    )
    await db.commit()
    return Ledger(world=world, interpreter_id=world.users["interpreter"].id)
