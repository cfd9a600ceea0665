"""Fan-out between server instances: to a user's sockets, to one peer of a room, presence.

Every frame a hub sends on behalf of someone else goes through the backplane, even in a
single process, so that a Redis pub/sub implementation (channels `vd:user:<id>`,
`vd:room:<id>`, `vd:presence`) can later make several instances act as one without touching
the hub. Frames are already serialised JSON text: exactly what a Redis message would carry.
"""

from __future__ import annotations

from typing import Protocol


class BackplaneReceiver(Protocol):
    """What a hub exposes to the backplane: deliver to sockets held by this instance."""

    async def deliver_to_user(self, user_id: int, frame: str) -> None: ...

    async def deliver_to_peer(self, room_id: str, peer_id: str, frame: str) -> None: ...

    async def deliver_presence(self, instance_id: str, user_id: int, online: bool) -> None: ...


class Backplane(Protocol):
    async def start(self, receiver: BackplaneReceiver) -> None: ...

    async def stop(self, receiver: BackplaneReceiver) -> None: ...

    async def publish_user(self, user_id: int, frame: str) -> None: ...

    async def publish_room(self, room_id: str, peer_id: str, frame: str) -> None: ...

    async def publish_presence(self, instance_id: str, user_id: int, online: bool) -> None: ...


class InMemoryBackplane:
    """One process. Several hubs may share one instance, which is how tests play 'cluster'."""

    def __init__(self) -> None:
        self._receivers: list[BackplaneReceiver] = []

    async def start(self, receiver: BackplaneReceiver) -> None:
        self._receivers.append(receiver)

    async def stop(self, receiver: BackplaneReceiver) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    async def publish_user(self, user_id: int, frame: str) -> None:
        for receiver in self._receivers:
            await receiver.deliver_to_user(user_id, frame)

    async def publish_room(self, room_id: str, peer_id: str, frame: str) -> None:
        for receiver in self._receivers:
            await receiver.deliver_to_peer(room_id, peer_id, frame)

    async def publish_presence(self, instance_id: str, user_id: int, online: bool) -> None:
        for receiver in self._receivers:
            await receiver.deliver_presence(instance_id, user_id, online)
