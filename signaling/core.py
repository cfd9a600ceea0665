"""The hub's decisions without I/O: who may join a room, and when a user is online or offline
across instances. Each call takes the input and the time and returns what to do — frames to
send, presence to announce on the bus, presence changes to report to the broker — so tests
feed it events and read the answer, without sockets, Redis or a clock.

Cross-instance presence ordering: when a user's last socket here is gone past the grace, this
instance announces "offline" on the bus but does not report it yet. Every instance reads the
bus in one order, so when our own announcement comes back, of several instances where the user
left at once exactly one finds nobody else holding the user at that point: that one reports
offline, the others stay silent. Should the bus never bring the message back (Redis away), the
decision is taken anyway after `echo_timeout` seconds on what this instance knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signaling.online import Presence, storm_grace
from signaling.rooms import Room, RoomError
from signaling.tokens import JoinClaims, TokenError, verify_join_token

ECHO_TIMEOUT_SECONDS = 5.0


@dataclass
class PresenceOutput:
    """What the hub must do: announce on the bus (`announce`), then tell the broker (`changes`)."""

    announce: list[tuple[int, bool]] = field(default_factory=list)
    changes: list[tuple[int, bool]] = field(default_factory=list)

    def __iadd__(self, other: PresenceOutput) -> PresenceOutput:
        self.announce += other.announce
        self.changes += other.changes
        return self


class ClusterPresence:
    """This instance's presence (sockets and grace periods) plus what the bus says of the others."""

    def __init__(self, instance_id: str, grace: float, *, reconnects_per_second: float,
                 echo_timeout: float = ECHO_TIMEOUT_SECONDS) -> None:
        self.instance_id = instance_id
        self.local = Presence(grace)
        self.reconnects_per_second = reconnects_per_second
        self.echo_timeout = echo_timeout
        self._remote: dict[int, set[str]] = {}  # user -> other instances holding them
        # Users whose offline we announced, decided when it comes back in bus order (monotonic
        # deadline: decide anyway if the bus never brings it back).
        self._leaving: dict[int, float] = {}

    # --- questions -----------------------------------------------------------------------

    def is_online(self, user_id: int) -> bool:
        return self.local.is_online(user_id) or bool(self._remote.get(user_id))

    def remote_instances(self, user_id: int) -> frozenset[str]:
        return frozenset(self._remote.get(user_id, ()))

    def leaving(self, user_id: int) -> bool:
        return user_id in self._leaving

    # --- events --------------------------------------------------------------------------

    def connect(self, user_id: int, conn_id: int) -> PresenceOutput:
        """A socket of the user opened here."""
        if not self.local.connect(user_id, conn_id):
            return PresenceOutput()
        self._leaving.pop(user_id, None)
        return PresenceOutput(announce=[(user_id, True)], changes=[(user_id, True)])

    def disconnect(self, user_id: int, conn_id: int, now: float) -> None:
        """A socket closed: the grace period starts when it was the user's last one here."""
        self.local.disconnect(user_id, conn_id, now)

    def adopt(self, user_ids: set[int], now: float) -> PresenceOutput:
        """Users of a dead instance, claimed by this one: online here for one grace period more
        (stretched by the time the crowd needs to reconnect), then offline unless they came back."""
        grace = storm_grace(self.local.grace, len(user_ids), self.reconnects_per_second)
        out = PresenceOutput()
        for user_id in sorted(user_ids):
            if self.local.adopt(user_id, now, grace):
                self._leaving.pop(user_id, None)
                out.announce.append((user_id, True))
        return out

    def heard(self, instance_id: str, user_id: int, online: bool) -> PresenceOutput:
        """A presence message read from the bus (ours included)."""
        if instance_id == self.instance_id:
            if not online and self._leaving.pop(user_id, None) is not None:
                return self._decide_offline(user_id)
            return PresenceOutput()
        instances = self._remote.setdefault(user_id, set())
        if online:
            instances.add(instance_id)
        else:
            instances.discard(instance_id)
            if not instances:
                del self._remote[user_id]
        return PresenceOutput()

    def instance_dead(self, instance_id: str) -> PresenceOutput:
        """Another instance died: whoever only it held is no longer online there."""
        out = PresenceOutput()
        for user_id in sorted(u for u, held in self._remote.items() if instance_id in held):
            out += self.heard(instance_id, user_id, False)
        return out

    def tick(self, now: float, mono: float) -> PresenceOutput:
        """Grace periods that ended are announced offline; announcements the bus lost are decided."""
        out = PresenceOutput()
        for user_id in self.local.expire(now):
            self._leaving[user_id] = mono + self.echo_timeout
            out.announce.append((user_id, False))
        for user_id in [u for u, deadline in self._leaving.items() if deadline <= mono]:
            del self._leaving[user_id]
            out += self._decide_offline(user_id)
        return out

    def _decide_offline(self, user_id: int) -> PresenceOutput:
        if self.is_online(user_id):  # back here, or online on another instance
            return PresenceOutput()
        return PresenceOutput(changes=[(user_id, False)])


def admit(*, secret_key: str, token: str, room_id: str, signed_in: bool, in_room: bool,
          room: Room | None, now: float) -> JoinClaims:
    """Check a join before any seat moves: the token (signature, expiry, room), who presents
    it, and whether the room is open. Returns the token's claims or raises `RoomError`."""
    try:
        claims = verify_join_token(secret_key, token, now=now)
    except TokenError as exc:
        raise RoomError(exc.code, str(exc)) from exc
    if claims.room_id != room_id:
        raise RoomError("token-wrong-room", "this token is for another room")
    if claims.user_id is not None and not signed_in:
        raise RoomError("unauthorized", "sign in to use this token")
    if in_room:
        raise RoomError("already-joined", "leave the current room first")
    if room is None:
        raise RoomError("room-closed", "no such call, or it has ended")
    return claims
