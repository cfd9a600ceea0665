"""The signalling wire format: JSON objects tagged by `type`, one pydantic schema per type.

`parse` and `serialize` are pure functions so the protocol can be tested without sockets and
reused by every client (the probe, the tests, the benchmark). Both directions share one
union: a relayed `offer` carries the addressee in `to` and the server stamps the sender's
peer id in `from` (whatever the client put there is overwritten, never trusted).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024

SeatRole = Literal["counter", "interpreter", "guest"]


class ProtocolError(ValueError):
    """A frame that is not a valid message; `code` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Message(BaseModel):
    # Extra fields are refused: a typo in a field name must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PeerInfo(_Message):
    peer_id: str = Field(max_length=64)
    role: SeatRole
    display_name: str = Field(max_length=200)
    # Perfect negotiation: true when the *recipient* is the polite side towards this peer.
    polite: bool


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceCandidateInit(_Message):
    """The browser's RTCIceCandidateInit; `candidate` is the SDP `candidate:` line."""

    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)  # noqa: N815 - W3C name
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)  # noqa: N815 - W3C name
    usernameFragment: str | None = Field(default=None, max_length=256)  # noqa: N815


# --- client -> server ------------------------------------------------------------------


class Hello(_Message):
    type: Literal["hello"] = "hello"
    version: int


class Join(_Message):
    type: Literal["join"] = "join"
    room: str = Field(min_length=1, max_length=128)
    token: str = Field(min_length=1, max_length=2048)


class Leave(_Message):
    type: Literal["leave"] = "leave"


# --- relayed inside a room (both directions) ---------------------------------------------


class _Relayed(_Message):
    to: str = Field(min_length=1, max_length=64)
    from_: str | None = Field(default=None, alias="from", max_length=64)


class Offer(_Relayed):
    type: Literal["offer"] = "offer"
    sdp: str = Field(min_length=1, max_length=60_000)


class Answer(_Relayed):
    type: Literal["answer"] = "answer"
    sdp: str = Field(min_length=1, max_length=60_000)


class Candidate(_Relayed):
    type: Literal["candidate"] = "candidate"
    candidate: IceCandidateInit | None  # None: end of candidates


class Bye(_Relayed):
    type: Literal["bye"] = "bye"
    reason: str = Field(default="hangup", max_length=64)


# --- heartbeat (both directions) ----------------------------------------------------------


class Ping(_Message):
    type: Literal["ping"] = "ping"


class Pong(_Message):
    type: Literal["pong"] = "pong"


# --- server -> client ----------------------------------------------------------------------


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    version: int = PROTOCOL_VERSION
    user_id: int | None
    heartbeat_seconds: float


class Joined(_Message):
    type: Literal["joined"] = "joined"
    room: str
    peer_id: str
    role: SeatRole
    rejoined: bool
    peers: list[PeerInfo]
    ice_servers: list[IceServer]


class PeerJoined(_Message):
    type: Literal["peer-joined"] = "peer-joined"
    room: str
    peer: PeerInfo
    rejoined: bool


class PeerLeft(_Message):
    type: Literal["peer-left"] = "peer-left"
    room: str
    peer_id: str
    # left: said goodbye; dropped: socket lost, seat held for `grace_seconds`;
    # expired: the grace period passed, the seat is free.
    reason: Literal["left", "dropped", "expired"]
    grace_seconds: float | None = None


class RoomClosed(_Message):
    type: Literal["room-closed"] = "room-closed"
    room: str
    reason: str = "ended"


class Event(_Message):
    type: Literal["event"] = "event"
    event: dict[str, Any]
    replay: bool = False


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None  # the type of the offending message, when known


Message = Annotated[
    Hello
    | Join
    | Leave
    | Offer
    | Answer
    | Candidate
    | Bye
    | Ping
    | Pong
    | Welcome
    | Joined
    | PeerJoined
    | PeerLeft
    | RoomClosed
    | Event
    | Error,
    Field(discriminator="type"),
]
RelayedMessage = Offer | Answer | Candidate | Bye
CLIENT_TYPES = frozenset({"hello", "join", "leave", "offer", "answer", "candidate", "bye", "ping", "pong"})
MESSAGE_TYPES = frozenset(
    {"hello", "join", "leave", "offer", "answer", "candidate", "bye", "ping", "pong", "welcome",
     "joined", "peer-joined", "peer-left", "room-closed", "event", "error"}
)

_adapter: TypeAdapter[Message] = TypeAdapter(Message)


_JSON_ERRORS = {"json_invalid": "bad-json", "dict_type": "bad-json", "model_type": "bad-json"}


def parse(text: str | bytes) -> Message:
    """Decode one frame; raise ProtocolError with a stable code for every kind of bad input."""
    if len(text) > MAX_MESSAGE_BYTES or (
        isinstance(text, str) and len(text) * 4 > MAX_MESSAGE_BYTES and len(text.encode()) > MAX_MESSAGE_BYTES
    ):
        raise ProtocolError("too-big", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        # One pass in pydantic-core (JSON decoding and validation together): this is the relay hot path.
        return _adapter.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = first["type"]
        if kind in _JSON_ERRORS:
            raise ProtocolError("bad-json", "message is not a JSON object") from exc
        if kind == "union_tag_not_found":
            raise ProtocolError("invalid", "message has no field `type`") from exc
        if kind == "union_tag_invalid":
            tag = str(first.get("ctx", {}).get("tag", ""))[:40]
            raise ProtocolError("unknown-type", f"unknown message type {tag!r}") from exc
        where = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][:1])
        raise ProtocolError("invalid", f"{first['loc'][0]}: {where}: {first['msg']}") from exc


def serialize(message: _Message) -> str:
    """Encode one message; `from_` goes out as `from`, unset optional fields are kept explicit."""
    return message.model_dump_json(by_alias=True)


_WITHOUT_FROM = {"from_"}


def stamp_sender(message: RelayedMessage, sender: str) -> str:
    """Encode a relayed message with `from` set to the sender (whatever the client put there is
    dropped); like `serialize(message.model_copy(update={"from_": sender}))` at half the cost."""
    body = message.model_dump_json(by_alias=True, exclude=_WITHOUT_FROM)
    return '{"from":' + json.dumps(sender) + "," + body[1:]
