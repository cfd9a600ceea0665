"""`videodolmetschen probe`: join a call as a headless aiortc participant and report on it.

For support staff: "does a call to this room work from here?" — it sends a test pattern and
a tone, waits for the other side, and prints connection states and getStats figures. The
last output line is one JSON object; the exit code is 0 only if media arrived.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from signaling.tokens import peek_room


async def run_probe(
    url: str, token: str, *, room: str | None = None, ws_token: str | None = None, seconds: float = 10.0
) -> dict[str, Any]:
    """Join, stay `seconds`, return a summary; prints progress lines while it runs."""
    # Imported here: aiortc is heavy, and every `videodolmetschen` command loads this module.
    from signaling.client.peer import Participant, SignalingRefused

    room_id = room or peek_room(token)
    if room_id is None:
        raise ValueError("the token names no room; pass --room")
    full_url = url + ("?" + urlencode({"token": ws_token}) if ws_token else "")
    participant = Participant(full_url, room=room_id, token=token)
    summary: dict[str, Any] = {"room": room_id, "ok": False}
    start = time.monotonic()
    try:
        joined = await participant.start()
        typer.echo(f"joined room {room_id} as {joined.role} (peer {joined.peer_id}); "
                   f"{len(joined.peers)} peer(s) present; ICE servers: {len(joined.ice_servers)}")
        deadline = start + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            pcs = participant.pcs.items()
            states = {pid: f"{pc.iceConnectionState}/{pc.connectionState}" for pid, pc in pcs}
            frames = {pid: dict(c) for pid, c in participant.frames.items()}
            elapsed = time.monotonic() - start
            typer.echo(f"t={elapsed:4.1f}s states={states or 'waiting for a peer'} frames={frames}")
        summary["peers"] = _summarise(await participant.stats(), participant)
        summary["ok"] = any(p["frames"].get("audio", 0) > 0 or p["frames"].get("video", 0) > 0
                            for p in summary["peers"].values())
    except SignalingRefused as exc:
        summary["error"] = exc.code
        typer.echo(f"refused by the server: {exc}", err=True)
    except (OSError, TimeoutError) as exc:
        summary["error"] = type(exc).__name__
        typer.echo(f"cannot reach {url}: {exc}", err=True)
    finally:
        await participant.close()
    return summary


def _summarise(stats: dict[str, dict[str, Any]], participant: Any) -> dict[str, Any]:
    peers: dict[str, Any] = {}
    for peer_id, pc in participant.pcs.items():
        entry: dict[str, Any] = {
            "ice": pc.iceConnectionState,
            "connection": pc.connectionState,
            "frames": dict(participant.frames.get(peer_id, {})),
        }
        for key, stat in stats.items():
            if not key.startswith(peer_id + "/") or stat.get("type") not in ("inbound-rtp", "outbound-rtp"):
                continue
            figures = {k: stat[k] for k in ("packetsReceived", "packetsSent", "bytesReceived", "bytesSent",
                                            "packetsLost", "jitter") if k in stat}
            entry[f"{stat['type']}:{stat.get('kind')}"] = figures
        peers[peer_id] = entry
    return peers


def probe(
    url: Annotated[str, typer.Option(help="Signalling WebSocket URL, e.g. wss://host/ws")],
    token: Annotated[str, typer.Option(help="Join token for the call (from the broker)")],
    room: Annotated[str | None, typer.Option(help="Room id; default: the room named in the token")] = None,
    ws_token: Annotated[
        str | None, typer.Option(help="WebSocket token (POST /api/rtc/ws-token) for a signed-in seat")
    ] = None,
    seconds: Annotated[float, typer.Option(min=1, max=3600, help="How long to stay in the call")] = 10.0,
) -> None:
    """Join a call as a test participant (pattern + tone) and print connection figures."""
    summary = asyncio.run(run_probe(url, token, room=room, ws_token=ws_token, seconds=seconds))
    typer.echo(json.dumps(summary, default=str))
    raise typer.Exit(0 if summary["ok"] else 1)
