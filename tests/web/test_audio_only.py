"""An audio-only request keeps both cameras off (issue 13 item 3), seen from inside Chromium.

Both pages run in real Chromium with its fake camera and microphone, so a camera *would* be
there to send: the proof is that neither peer connection sends a video track, while sound
flows both ways, and that both people see an audio call (no own picture, no camera button).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page

from tests.conftest import World
from tests.waiting import eventually
from tests.web.conftest import Web
from tests.web.helpers import choose_language, interpreter_available

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the page's call holds and sends, read from its RTCPeerConnections (getSenders, getStats).
MEDIA_SENT = """async () => {
  const call = window.__vd.call;
  const out = { localVideo: call.localStream.getVideoTracks().length, senderKinds: [], links: call.links.size,
                videoBytesSent: 0, videoBytesReceived: 0, remoteVideoTracks: 0, audioPacketsReceived: 0 };
  for (const link of call.links.values()) {
    out.senderKinds.push(...link.pc.getSenders().filter((s) => s.track).map((s) => s.track.kind));
    out.remoteVideoTracks += link.stream.getVideoTracks().length;
    (await link.pc.getStats()).forEach((s) => {
      if (s.type === "outbound-rtp" && s.kind === "video") out.videoBytesSent += s.bytesSent || 0;
      if (s.type === "inbound-rtp" && s.kind === "video") out.videoBytesReceived += s.bytesReceived || 0;
      if (s.type === "inbound-rtp" && s.kind === "audio") out.audioPacketsReceived += s.packetsReceived || 0;
    });
  }
  return out;
}"""


async def media_sent(page: Page) -> dict[str, Any]:
    return dict(await page.evaluate(MEDIA_SENT))


async def sound_arrives(page: Page) -> dict[str, Any]:
    """Wait until the call has a peer and audio packets arrived from it; return the media read."""
    async def flowing() -> dict[str, Any] | None:
        if not await page.evaluate("Boolean(window.__vd.call)"):
            return None
        read = await media_sent(page)
        return read if read["links"] and read["audioPacketsReceived"] > 0 else None
    return await eventually(flowing, timeout=20, message="no sound arrived")


async def test_audio_only_request_keeps_both_cameras_off(web: Web, world: World) -> None:
    """'Nur Audio': sound flows both ways, no side sends or receives video, both see an audio call."""
    interpreter = await web.person("interpreter")
    counter = await web.person("caseworker_a")
    await interpreter_available(interpreter.page, web.url("/interpreter.html"))

    page = counter.page
    await choose_language(page, web.url("/counter.html"), "arab", "ar")
    await page.get_by_label("Nur Audio (ohne Kamera)").check()
    await page.get_by_role("button", name="Jetzt dolmetschen").click()

    offer = interpreter.page.get_by_role("alertdialog", name="Neue Anfrage")
    await offer.wait_for()
    # The interpreter knows before accepting that no camera will be asked for.
    assert await offer.locator('[data-field="offer.media"]').inner_text() == "nur Audio"
    assert await offer.locator('[data-field="offer.mode"]').inner_text() == "sofort"  # not an escalated booking
    await offer.get_by_role("button", name="Annehmen").click()

    for person in (counter, interpreter):
        read = await sound_arrives(person.page)
        assert read["localVideo"] == 0, read  # no camera was opened
        assert read["senderKinds"] == ["audio"], read  # one sender, audio; no video track attached
        assert read["remoteVideoTracks"] == 0 and read["videoBytesReceived"] == 0, read
        assert read["videoBytesSent"] == 0, read
        # What the person sees: an audio call, connected; no own picture, no camera button.
        call = person.page.locator("section.call")
        await call.get_by_role("heading", name="Audiogespräch").wait_for()
        await call.get_by_text("Verbunden.").wait_for()
        assert await person.page.locator("#local-video").is_hidden()
        assert await call.get_by_role("button", name="Kamera aus").count() == 0
        assert await call.get_by_role("button", name="Mikrofon aus").is_visible()
        assert await call.get_by_role("button", name="Gespräch beenden").is_visible()

    # Still no video later on: a renegotiation (ICE restart, resume) must not add a camera either.
    for person in (counter, interpreter):
        later = await media_sent(person.page)
        assert later["videoBytesSent"] == 0 and later["senderKinds"] == ["audio"], later
        assert [e for e in person.errors if "favicon" not in e] == []
