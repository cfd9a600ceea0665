"""The room directory: where the authoritative copy of the rooms lives.

The hub keeps its rooms in memory and its state machines (`signaling.rooms`) decide; the
directory is told of every change the hub made and brings the hub's copy up to date before a
decision that depends on other instances. In one process the hub's copy is the directory
(`InMemoryRooms`, every call does nothing); with several instances it is a Redis hash per room
(`signaling.cluster.RedisRooms`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from signaling.rooms import Room, Seat


class DirectoryHost(Protocol):
    """What a directory may ask of the hub it serves."""

    @property
    def instance_id(self) -> str: ...

    @property
    def rooms(self) -> dict[str, Room]: ...

    def close_room_here(self, room_id: str, reason: str) -> object: ...

    async def tell_left_here(self, room: Room, seat: Seat, reason: str) -> None: ...

    async def instance_gone(self, instance_id: str) -> None: ...

    async def adopt_presence(self, user_ids: set[int]) -> None: ...

    def connected_users(self) -> set[int]: ...


class RoomDirectory(Protocol):
    def attach(self, host: DirectoryHost) -> None:
        """Called once by the hub that uses this directory."""

    def opened(self, room: Room) -> None:
        """The broker opened (or extended) a room on this instance."""

    def closed(self, room_id: str, reason: str) -> None:
        """The room ended here (by the broker or by expiry): end it everywhere."""

    async def settle(self) -> None:
        """Wait (briefly) for the directory writes in flight, e.g. before an event names a room."""

    def joining(self, room_id: str) -> AbstractAsyncContextManager[None]:
        """Hold while a join to the room is decided, so joins to one room happen one at a time."""

    async def refresh(self, room_id: str, *, check_owners: bool) -> None:
        """Bring the hub's copy of the room up to date (`check_owners`: free seats of dead instances)."""

    async def seat_changed(self, room_id: str, peer_id: str) -> None:
        """A seat was taken or dropped on this instance."""

    async def unseated(self, room_id: str, peer_id: str) -> None:
        """A seat was given up for good on this instance (the peer left)."""

    async def expired(self, room_id: str, peer_id: str) -> None:
        """A dropped seat's grace ran out (each instance expires its own copy at the same moment)."""


class InMemoryRooms:
    """One process: the hub's rooms are all there is."""

    def attach(self, host: DirectoryHost) -> None:
        pass

    def opened(self, room: Room) -> None:
        pass

    def closed(self, room_id: str, reason: str) -> None:
        pass

    async def settle(self) -> None:
        pass

    @contextlib.asynccontextmanager
    async def joining(self, room_id: str) -> AsyncIterator[None]:  # noqa: ARG002 (the protocol's signature)
        yield  # one process: no other instance can seat someone in the room meanwhile

    async def refresh(self, room_id: str, *, check_owners: bool) -> None:
        pass

    async def seat_changed(self, room_id: str, peer_id: str) -> None:
        pass

    async def unseated(self, room_id: str, peer_id: str) -> None:
        pass

    async def expired(self, room_id: str, peer_id: str) -> None:
        pass
