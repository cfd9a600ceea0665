"""The no-show journey in three browser contexts with the real scheduler and dispatcher on short
settings: the booked interpreter confirms but never joins, the booking escalates at its start,
a stand-in accepts, and the caseworker is told what happened and then sees the stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.booking.models import BookingEscalation
from broker.config import Settings
from broker.enums import RequestStatus
from broker.request.models import InterpretingRequest
from tests.booking.conftest import calendar_without_holidays_near_now, interpreters  # noqa: F401  (fixtures)
from tests.conftest import World
from tests.web.conftest import Web, ready
from tests.web.helpers import interpreter_available, remote_video_playing

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LEAD = timedelta(seconds=25)  # the booking starts this soon: inside the room window at once


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Short settings: background work on (scheduler, dispatcher), no-show checked at the start."""
    return settings.model_copy(update={"scheduler_enabled": True, "booking_no_show_minutes": 0,
                                       "booking_room_open_minutes": 10, "outbox_sender_enabled": False,
                                       "scheduler_lease_seconds": 5.0})


async def _playing_and_advancing(page) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    """(videoWidth, seconds the remote video's currentTime advanced over about a second)."""
    first = await page.evaluate("(() => { const v = document.querySelector('video.remote-video');"
                                " return [v.videoWidth, v.currentTime]; })()")
    await page.wait_for_function(
        f"document.querySelector('video.remote-video').currentTime > {first[1] + 0.5}", timeout=10_000)
    later = await page.evaluate("document.querySelector('video.remote-video').currentTime")
    return int(first[0]), float(later - first[1])


@pytest.mark.usefixtures("calendar_without_holidays_near_now")
async def test_no_show_caseworker_is_told_and_then_sees_the_stand_in(
    web: Web, interpreters: World, sessionmaker: async_sessionmaker[AsyncSession],  # noqa: F811
) -> None:
    """The stand-in's offer says it is an escalated booking; the counter leaves the booking's empty
    room, shows the plain-German notice, and plays the stand-in's video."""
    world = interpreters
    counter = await web.person("caseworker_a")
    booked = await web.person("interpreter")  # confirms by API and never opens a page: never joins
    stand_in = await web.person("interpreter_2")

    await counter.page.goto(web.url("/counter.html"))
    await ready(counter.page, "loaded")
    await counter.page.wait_for_function("window.__vd.signal.state === 'open'")
    await interpreter_available(stand_in.page, web.url("/interpreter.html"))

    start = datetime.now(UTC) + LEAD
    created = await counter.context.request.post(web.url("/api/bookings"), data={
        "language_code": "ar", "purpose": "residence_permit", "start": start.isoformat(), "duration_minutes": 30,
        "interpreter_id": world.users["interpreter"].id})
    assert created.ok, await created.text()
    booking_id = (await created.json())["id"]
    confirmed = await booked.context.request.post(web.url(f"/api/bookings/{booking_id}/confirm"))
    assert confirmed.ok, await confirmed.text()
    assert (await confirmed.json())["status"] == "open"  # inside the window: the room opened on confirm

    # The caseworker waits alone in the booking's room.
    await counter.page.wait_for_function("document.body.dataset.view === 'call'")

    # At the start the scheduler's no-show check escalates; the dispatcher offers the stand-in.
    offer = stand_in.page.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.wait_for(timeout=LEAD.total_seconds() * 1000 + 30_000)
    # The stand-in reads at a glance that this is a booking whose interpreter did not come.
    occasion = offer.locator('[data-field="offer.mode"]')
    assert await occasion.inner_text() == "Termin ohne Dolmetscher:in – jetzt sofort"
    assert await occasion.is_visible()
    notice = counter.page.get_by_text(
        "Die gebuchte Person ist nicht gekommen; wir verbinden Sie mit einer anderen Person.")
    await notice.wait_for()
    assert await notice.is_visible()
    assert await counter.page.evaluate("document.body.dataset.view") == "waiting"
    await offer.get_by_role("button", name="Annehmen").click()

    await remote_video_playing(counter.page)
    width, advanced = await _playing_and_advancing(counter.page)
    assert width > 0 and advanced > 0.5, (width, advanced)
    assert await notice.is_visible()  # the explanation stays on screen during the new call

    async with sessionmaker() as db:
        escalation = (await db.execute(select(BookingEscalation))).scalar_one()
        booking = await db.get(InterpretingRequest, booking_id)
        follow_up = await db.get(InterpretingRequest, escalation.request_id)
        assert booking is not None and follow_up is not None
        assert escalation.booking_id == booking_id and booking.status is RequestStatus.ESCALATED
        assert follow_up.interpreter_id == world.users["interpreter_2"].id
        assert follow_up.status in (RequestStatus.ACCEPTED, RequestStatus.CONNECTED)
    saved = await counter.page.evaluate("JSON.parse(sessionStorage.getItem('vd.counter.request'))")
    assert saved["id"] == escalation.request_id
    for person in (counter, stand_in):
        assert [e for e in person.errors if "favicon" not in e] == [], person.errors
