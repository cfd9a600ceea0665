"""Whole journeys in two (or three) browser contexts against the real app: WebRTC media flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest
from tests.conftest import World
from tests.web.conftest import Web, axe_check
from tests.web.helpers import ask_now, inbound_growth, interpreter_available, remote_video_playing

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_on_demand_call_from_arabic_request_to_rating_and_ledger(
    web: Web, world: World, sessionmaker: async_sessionmaker[AsyncSession], artifacts_dir: Path
) -> None:
    """Caseworker asks for Arabic, the interpreter accepts, both see video, the call ends and is rated."""
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    assert await axe_check(interpreter.page, "interpreter-idle", artifacts_dir) == []

    await ask_now(counter.page, web.url("/counter.html"), "arab", "ar")
    offer = interpreter.page.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.wait_for()
    assert "Arabisch" in await offer.inner_text()
    assert await axe_check(interpreter.page, "interpreter-offer", artifacts_dir) == []
    await counter.page.wait_for_function("document.body.dataset.view === 'waiting'")
    assert await axe_check(counter.page, "counter-waiting", artifacts_dir) == []
    await offer.get_by_role("button", name="Annehmen").click()

    for person in (counter, interpreter):
        await remote_video_playing(person.page)
        growth = await inbound_growth(person.page)
        assert growth["bytesReceived"] > 0 and growth["framesDecoded"] > 0, growth
    await counter.page.get_by_text("Verbindungsqualität: gut").wait_for(timeout=10_000)
    assert await axe_check(counter.page, "counter-call", artifacts_dir) == []
    assert await axe_check(interpreter.page, "interpreter-call", artifacts_dir) == []

    await counter.page.get_by_role("button", name="Gespräch beenden").click()
    await counter.page.get_by_role("heading", name="Wie war das Gespräch?").wait_for()
    await interpreter.page.get_by_role("heading", name="Nachbereitung").wait_for()
    assert await axe_check(counter.page, "counter-rating", artifacts_dir) == []
    assert await axe_check(interpreter.page, "interpreter-wrapup", artifacts_dir) == []
    await counter.page.get_by_label("4").check()
    await counter.page.get_by_label("Ton").check()
    await counter.page.get_by_role("button", name="Bewertung senden").click()
    await counter.page.get_by_text("Danke für Ihre Bewertung.").wait_for()

    async with sessionmaker() as db:
        request = (await db.execute(select(InterpretingRequest))).scalar_one()
        assert request.status == "completed" and request.rating == 4
        assert request.rating_problems == "audio"
        rows = (await db.execute(select(func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.request_id == request.id))).scalar_one()
        assert rows == 1
    for person in (counter, interpreter):
        assert [e for e in person.errors if "favicon" not in e] == []


async def _connected_call(web: Web) -> tuple:
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))
    await ask_now(counter.page, web.url("/counter.html"), "Arabic", "ar")
    await interpreter.page.get_by_role("button", name="Annehmen").click()
    for person in (counter, interpreter):
        await remote_video_playing(person.page)
    return counter, interpreter


async def test_interpreter_page_reload_mid_call_resumes_the_call(web: Web, world: World) -> None:
    """After a reload the console rejoins its seat, renegotiates, and media flows both ways again."""
    counter, interpreter = await _connected_call(web)
    await interpreter.page.reload()
    await interpreter.page.wait_for_function("document.body.dataset.view === 'call'")
    await remote_video_playing(interpreter.page)
    # The counter's old stream froze when the page went; it must be a fresh one that plays now.
    await counter.page.wait_for_function(
        "window.__vd.call && window.__vd.call.links.size === 1 && "
        "[...window.__vd.call.links.values()][0].pc.connectionState === 'connected'")
    await remote_video_playing(counter.page)
    for person in (counter, interpreter):
        growth = await inbound_growth(person.page)
        assert growth["bytesReceived"] > 0 and growth["framesDecoded"] > 0, growth


async def test_signalling_socket_drop_mid_call_keeps_media_and_rejoins(web: Web, world: World) -> None:
    """A dropped WebSocket reconnects by itself and takes the same seat; media never stops."""
    counter, interpreter = await _connected_call(web)
    # The closed state lasts only until the reconnect (under a second): recorded as it happens,
    # since a poll of the current state can miss it on a loaded machine.
    await counter.page.evaluate("""() => {
        const signal = window.__vd.signal;
        window.__states = [];
        signal.addEventListener("state", (event) => window.__states.push(event.detail));
        signal.drop();
    }""")
    await counter.page.wait_for_function("window.__states.includes('closed')")
    await counter.page.wait_for_function(
        "window.__states.at(-1) === 'open' && window.__vd.signal.state === 'open' && window.__vd.signal.peerId")
    growth = await inbound_growth(interpreter.page)
    assert growth["framesDecoded"] > 0, growth


async def test_third_party_joins_by_guest_link_and_sees_both(web: Web, world: World, artifacts_dir: Path) -> None:
    """The caseworker's one-time link lets an anonymous guest into the call with both others."""
    counter, _interpreter = await _connected_call(web)
    await counter.page.get_by_role("button", name="Einladungslink erzeugen").click()
    await counter.page.wait_for_function("document.querySelector('#guest-url').value !== ''")
    url = await counter.page.get_by_label("Einladungslink").input_value()
    assert "/guest.html#room=" in url
    guest = await web.person(None)
    await guest.page.goto(url)
    await guest.page.get_by_role("button", name="Teilnehmen").click()
    await guest.page.wait_for_function(
        "[...document.querySelectorAll('video.remote-video')].filter(v => v.videoWidth > 0).length === 2",
        timeout=15_000)
    assert await axe_check(guest.page, "guest-call", artifacts_dir) == []
    growth = await inbound_growth(guest.page)
    assert growth["framesDecoded"] > 0
