"""HTTP bodies of the signalling API (the broker serves them; signaling/ stays free of broker)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from broker.params import LinesText
from signaling.protocol import IceServer


class IceServersRead(BaseModel):
    ice_servers: list[IceServer]


class WsTokenRead(BaseModel):
    token: str
    expires_in: int


class EchoOffer(BaseModel):
    sdp: LinesText = Field(min_length=1, max_length=60_000)
    type: Literal["offer"] = "offer"


class EchoAnswer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    expires_in: float
