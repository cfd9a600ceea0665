"""Room membership as a state machine without I/O: seats, tokens, drops and rejoins.

A room has at most one seat per role (counter, interpreter, guest), so at most three people.
A seat outlives its socket by the rejoin grace period: a dropped peer that comes back with
the same token (or, if signed in, as the same user) gets its old seat and peer id back, and
the others renegotiate with it. Time is always a parameter so tests run synchronously.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from signaling.tokens import JoinClaims

MAX_SEATS = 3
# Perfect negotiation needs exactly one polite side per pair: the higher rank is polite,
# so the interpreter yields to the counter, and the guest yields to both.
_POLITE_RANK = {"counter": 0, "interpreter": 1, "guest": 2}


class RoomError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Seat:
    peer_id: str
    role: str
    user_id: int | None
    display_name: str
    token_id: str
    conn_id: int | None
    dropped_at: float | None = None

    @property
    def connected(self) -> bool:
        return self.conn_id is not None

    def polite_towards(self, other: Seat) -> bool:
        return _POLITE_RANK[self.role] > _POLITE_RANK[other.role]


@dataclass(frozen=True)
class JoinResult:
    seat: Seat
    rejoined: bool


@dataclass
class Room:
    room_id: str
    expires_at: float
    rejoin_grace: float
    seats: dict[str, Seat] = field(default_factory=dict)
    used_tokens: set[str] = field(default_factory=set)
    closed: bool = False

    def join(
        self,
        claims: JoinClaims,
        *,
        conn_id: int,
        user_id: int | None,
        display_name: str,
        now: float,
    ) -> JoinResult:
        """Seat a connection or raise RoomError; `user_id` is the socket's signed-in user."""
        held = self.admission(claims, conn_id=conn_id, user_id=user_id, now=now)
        if held is not None:
            held.conn_id, held.dropped_at, held.token_id = conn_id, None, claims.token_id
            held.display_name = display_name
            self.used_tokens.add(claims.token_id)
            return JoinResult(seat=held, rejoined=True)
        seat = Seat(
            peer_id=secrets.token_urlsafe(6),
            role=claims.role,
            user_id=claims.user_id,
            display_name=display_name,
            token_id=claims.token_id,
            conn_id=conn_id,
        )
        self.seats[seat.peer_id] = seat
        self.used_tokens.add(claims.token_id)
        return JoinResult(seat=seat, rejoined=False)

    def admission(self, claims: JoinClaims, *, conn_id: int, user_id: int | None, now: float) -> Seat | None:
        """Whether `join` would seat this connection, changing nothing: the held seat it would take
        back, None for a new seat, or RoomError. A guest link is spent only after this says yes."""
        if claims.room_id != self.room_id:
            raise RoomError("token-wrong-room", "this token is for another room")
        if self.closed or now >= self.expires_at:
            raise RoomError("room-closed", "this call has ended")
        if claims.user_id is not None and claims.user_id != user_id:
            raise RoomError("token-wrong-user", "this token belongs to another user")
        if self.seat_of(conn_id) is not None:
            raise RoomError("already-joined", "this connection already holds a seat")
        for seat in self.seats.values():
            same_token = seat.token_id == claims.token_id
            same_user = claims.user_id is not None and (seat.user_id, seat.role) == (
                claims.user_id,
                claims.role,
            )
            if same_token or same_user:
                if seat.connected:
                    raise RoomError("token-used", "this seat is already taken by a live connection")
                return seat
        if claims.token_id in self.used_tokens:
            raise RoomError("token-used", "this token has already been used")
        if len(self.seats) >= MAX_SEATS:
            raise RoomError("room-full", "the room is full")
        if any(seat.role == claims.role for seat in self.seats.values()):
            raise RoomError("room-full", f"the {claims.role} seat is taken")
        return None

    def holds_token(self, token_id: str) -> bool:
        """A seat was taken with this token (its holder may come back within the grace)."""
        return any(seat.token_id == token_id for seat in self.seats.values())

    def seat_of(self, conn_id: int) -> Seat | None:
        for seat in self.seats.values():
            if seat.conn_id == conn_id:
                return seat
        return None

    def leave(self, conn_id: int) -> Seat | None:
        """Free the seat for good: its token stays used."""
        seat = self.seat_of(conn_id)
        if seat is not None:
            del self.seats[seat.peer_id]
        return seat

    def drop(self, conn_id: int, now: float) -> Seat | None:
        """The socket went away: hold the seat for the grace period."""
        seat = self.seat_of(conn_id)
        if seat is not None:
            seat.conn_id, seat.dropped_at = None, now
        return seat

    def expire(self, now: float) -> list[Seat]:
        """Release seats whose grace period has passed."""
        gone = [
            s for s in self.seats.values()
            if s.dropped_at is not None and now - s.dropped_at >= self.rejoin_grace
        ]
        for seat in gone:
            del self.seats[seat.peer_id]
        return gone

    def others(self, seat: Seat) -> list[Seat]:
        return [s for s in self.seats.values() if s.peer_id != seat.peer_id]

    def close(self) -> list[Seat]:
        self.closed = True
        seats = list(self.seats.values())
        self.seats.clear()
        return seats

    @property
    def empty(self) -> bool:
        return not self.seats
