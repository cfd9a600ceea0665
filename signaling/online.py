"""Presence as a state machine without I/O.

A user is online from the first socket until `grace` seconds after the last socket closed,
so a flaky line or a page reload does not make an interpreter miss an offer.
"""

from __future__ import annotations


class Presence:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._sockets: dict[int, set[int]] = {}
        self._offline_at: dict[int, float] = {}  # users with no socket, in their grace period

    def connect(self, user_id: int, conn_id: int) -> bool:
        """Register a socket; True when this makes the user come online."""
        was_online = self.is_online(user_id)
        self._offline_at.pop(user_id, None)
        self._sockets.setdefault(user_id, set()).add(conn_id)
        return not was_online

    def disconnect(self, user_id: int, conn_id: int, now: float) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is None:
            return
        sockets.discard(conn_id)
        if not sockets:
            del self._sockets[user_id]
            self._offline_at[user_id] = now + self.grace

    def adopt(self, user_id: int, now: float, grace: float | None = None) -> bool:
        """Take over a user whose sockets were on an instance that died: a fresh grace period from
        `now` (`grace`, default the normal one), as if their last socket had just closed here.
        True when this makes them online here."""
        if user_id in self._sockets:
            return False
        was_online = user_id in self._offline_at
        grace = self.grace if grace is None else grace
        self._offline_at[user_id] = max(self._offline_at.get(user_id, now), now + grace)
        return not was_online

    def expire(self, now: float) -> list[int]:
        """Users whose grace period has passed; they are offline from now on."""
        gone = [user for user, deadline in self._offline_at.items() if deadline <= now]
        for user in gone:
            del self._offline_at[user]
        return gone

    def users(self) -> set[int]:
        """Users online through this instance: a socket here, or in their grace period here."""
        return set(self._sockets) | set(self._offline_at)

    def is_online(self, user_id: int) -> bool:
        return user_id in self._sockets or user_id in self._offline_at

    def in_grace(self, user_id: int) -> bool:
        return user_id in self._offline_at


def storm_grace(grace: float, users: int, reconnects_per_second: float) -> float:
    """The grace for the users of a dead instance: the normal grace plus the time the whole crowd
    needs to reconnect at the rate the survivors accept sockets. After a failover of 3,000
    sockets the last ones came back after 25 s, past a 20 s grace: without this they would have
    flapped offline (offers revoked, history cut) although nothing was wrong with them."""
    return grace + users / reconnects_per_second
