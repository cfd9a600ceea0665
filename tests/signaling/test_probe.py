"""The `videodolmetschen probe` command against a real server and a real peer."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.signaling.conftest import Server


async def test_probe_command_reports_media_from_the_other_side(server: Server) -> None:
    """The probe joins as guest, gets media from the counter and ends with an ok JSON summary."""
    server.open_room("support")
    counter = server.participant("support", "counter", 1)
    await counter.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "broker.cli", "probe", "--url", server.ws_url,
            "--token", server.token("support", "guest"), "--seconds", "1.5",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert summary["ok"] is True and summary["room"] == "support"
        (peer,) = summary["peers"].values()
        assert peer["ice"] in ("connected", "completed") and peer["frames"]["video"] > 0
        assert peer["inbound-rtp:audio"]["packetsReceived"] > 0
    finally:
        await counter.close()


async def test_probe_with_a_refused_token_exits_non_zero(server: Server) -> None:
    """A token for an unknown room makes the probe say why and exit 1."""
    server.open_room("support")
    token = server.token("support", "guest")
    await server.hub.close_room("support")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "broker.cli", "probe", "--url", server.ws_url, "--token", token,
        "--seconds", "1", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert json.loads(out.decode().strip().splitlines()[-1])["error"] == "room-closed"
    assert b"refused" in err
