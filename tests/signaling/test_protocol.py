"""The wire format, without sockets."""

from __future__ import annotations

import json

import pytest

from signaling import protocol as p

EXAMPLES: list[dict[str, object]] = [
    {"type": "hello", "version": 1},
    {"type": "join", "room": "call-42", "token": "abc.def"},
    {"type": "leave"},
    {"type": "offer", "to": "peerB", "from": "peerA", "sdp": "v=0\r\n"},
    {"type": "answer", "to": "peerA", "from": "peerB", "sdp": "v=0\r\n"},
    {"type": "candidate", "to": "peerA", "from": "peerB",
     "candidate": {"candidate": "candidate:1 1 udp 1 192.0.2.2 5000 typ host", "sdpMid": "0",
                   "sdpMLineIndex": 0, "usernameFragment": None}},
    {"type": "candidate", "to": "peerA", "from": "peerB", "candidate": None},
    {"type": "bye", "to": "peerA", "from": "peerB", "reason": "hangup"},
    {"type": "ping"},
    {"type": "pong"},
    {"type": "welcome", "version": 1, "user_id": 7, "heartbeat_seconds": 15.0},
    {"type": "joined", "room": "call-42", "peer_id": "peerA", "role": "counter", "rejoined": False,
     "peers": [{"peer_id": "peerB", "role": "interpreter", "display_name": "B", "polite": False}],
     "ice_servers": [{"urls": ["stun:stun.example:3478"], "username": None, "credential": None}]},
    {"type": "peer-joined", "room": "call-42", "rejoined": True,
     "peer": {"peer_id": "peerB", "role": "interpreter", "display_name": "B", "polite": False}},
    {"type": "peer-left", "room": "call-42", "peer_id": "peerB", "reason": "dropped", "grace_seconds": 60.0},
    {"type": "room-closed", "room": "call-42", "reason": "ended"},
    {"type": "event", "event": {"type": "offer", "request_id": 5}, "replay": False},
    {"type": "error", "code": "room-full", "message": "the room is full", "ref": "join"},
]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: str(e["type"]))
def test_every_message_round_trips(example: dict[str, object]) -> None:
    """Each message type parses and serialises back to the same JSON object."""
    message = p.parse(json.dumps(example))
    assert json.loads(p.serialize(message)) == example


def test_every_type_has_an_example() -> None:
    """The example list (also the one in docs/signaling.md) covers every message type."""
    assert {e["type"] for e in EXAMPLES} == p.MESSAGE_TYPES


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad-json"),
        ("[1, 2]", "bad-json"),
        ('{"version": 1}', "invalid"),
        ('{"type": "shout"}', "unknown-type"),
        ('{"type": "hello"}', "invalid"),
        ('{"type": "hello", "version": 1, "extra": true}', "invalid"),
        ('{"type": "offer", "sdp": "v=0"}', "invalid"),
        ('{"type": "candidate", "to": "x", "candidate": {"candidate": "c", "bogus": 1}}', "invalid"),
        ("x" * (p.MAX_MESSAGE_BYTES + 1), "too-big"),
        ('{"type": "offer", "to": "x", "sdp": "' + "ä" * 40_000 + '"}', "too-big"),
    ],
)
def test_bad_frames_raise_protocol_errors_with_codes(frame: str, code: str) -> None:
    """Every kind of bad frame is refused with a stable error code."""
    with pytest.raises(p.ProtocolError) as info:
        p.parse(frame)
    assert info.value.code == code


def test_relayed_messages_serialise_from_as_from() -> None:
    """The sender stamp is written as `from`, the JavaScript-friendly name."""
    offer = p.Offer(to="b", sdp="v=0").model_copy(update={"from_": "a"})
    assert json.loads(p.serialize(offer))["from"] == "a"


@pytest.mark.parametrize("frame", [
    '{"type": "offer", "to": "b", "from": "forged", "sdp": "v=0"}',
    '{"type": "candidate", "to": "b", "candidate": {"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host"}}',
    '{"type": "candidate", "to": "b", "candidate": null}',
    '{"type": "bye", "to": "b"}',
])
def test_stamp_sender_equals_serialising_a_copy_with_from_set(frame: str) -> None:
    """The relay's fast stamp gives the same message as a model copy with `from` replaced, forgery dropped."""
    msg = p.parse(frame)
    assert isinstance(msg, p.Offer | p.Answer | p.Candidate | p.Bye)
    stamped = p.stamp_sender(msg, 'pe"er')
    assert json.loads(stamped) == json.loads(p.serialize(msg.model_copy(update={"from_": 'pe"er'})))
    assert p.parse(stamped) == msg.model_copy(update={"from_": 'pe"er'})


def test_docs_show_a_valid_example_of_every_message() -> None:
    """docs/signaling.md has a JSON example for every type, and each one parses."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "signaling.md").read_text()
    types = {p.parse(block).type for block in re.findall(r"```json\n(.*?)```", doc, re.S)}
    assert types == p.MESSAGE_TYPES
