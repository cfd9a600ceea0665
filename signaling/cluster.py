"""Rooms that span instances: the room directory lives in Redis.

The plain hub keeps rooms in memory, which is right for one process. With several
instances a counter on A and an interpreter on B sit in one room, and when A dies the
counter rejoins its seat on B. So every instance keeps a *replica* of each room, and the
authoritative copy is a Redis hash per room (`<prefix>:room:<id>`: `meta`, `seat:<peer>`,
`tok:<token id>`). The hub's own state machines still decide; `RedisRooms`, the hub's room
directory, (1) loads the room from Redis before a join and when a relay target is unknown,
(2) writes a seat after the hub changed it (join, drop, leave) and tells the other
instances over the bus, and (3) frees the seats of an instance that died, so its users
rejoin elsewhere at once instead of meeting a seat "taken by a live connection".

A seat held on another instance carries the conn id `REMOTE`: "connected, not here". The
owner instance alone delivers frames to it (the backplane fans every frame out to all).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from redis.exceptions import LockError, RedisError

from signaling.directory import DirectoryHost
from signaling.hub import Authenticate, Hub
from signaling.redis_backplane import RedisBackplane
from signaling.rooms import Room, Seat

log = logging.getLogger(__name__)
REMOTE = -1  # conn id of a seat connected on another instance (real conn ids start at 1)
FLUSH_SECONDS = 0.25


class ClusterHub(Hub):
    """A hub whose room directory and bus are Redis."""

    def __init__(self, *, settings: Any, backplane: RedisBackplane, authenticate: Authenticate,
                 **options: Any) -> None:
        super().__init__(settings=settings, backplane=backplane, authenticate=authenticate,
                         instance_id=backplane.instance_id, directory=RedisRooms(backplane), **options)
        self.cluster = backplane


class RedisRooms:
    """The room directory over Redis (see the module's docstring)."""

    def __init__(self, bus: RedisBackplane) -> None:
        self.cluster = bus
        self._owners: dict[tuple[str, str], str] = {}  # (room, peer) -> instance holding the socket
        self._pending: set[asyncio.Task[None]] = set()
        bus.on_room_message = self._on_room_message
        bus.on_instance_dead = self._on_instance_dead
        bus.on_reconnect = self._republish

    def attach(self, host: DirectoryHost) -> None:
        self.host = host
        self._rooms = host.rooms
        self.instance_id = host.instance_id

    # --- what the hub tells the directory ------------------------------------------------

    def opened(self, room: Room) -> None:
        self._track(self._store_meta(room, announce=True))

    def closed(self, room_id: str, reason: str) -> None:
        self._track(self._store_close(room_id, reason))

    async def settle(self) -> None:
        """Wait for the room-directory writes in flight, briefly: with Redis hung they wait for
        the socket timeout, and an HTTP response must not (the bus messages are queued in order)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=FLUSH_SECONDS)

    @contextlib.asynccontextmanager
    async def joining(self, room_id: str) -> AsyncIterator[None]:
        """Joins to one room are serialised by a Redis lock, so two people joining at once on
        two instances see each other: the second finds the first's seat and offers to it."""
        lock = self.cluster.redis.lock(self.cluster.key("lock", room_id), timeout=5, blocking_timeout=3)
        try:
            locked = bool(await lock.acquire())
        except (RedisError, OSError):
            locked = False
        try:
            yield
        finally:
            if locked:
                with contextlib.suppress(RedisError, OSError, LockError):
                    await lock.release()

    async def refresh(self, room_id: str, *, check_owners: bool) -> None:
        await self._load(room_id, check_owners=check_owners)

    async def seat_changed(self, room_id: str, peer_id: str) -> None:
        room = self._rooms.get(room_id)
        seat = room.seats.get(peer_id) if room else None
        if seat is not None and seat.conn_id not in (None, REMOTE):
            self._owners[(room_id, peer_id)] = self.instance_id
        await self._store_seat(room_id, peer_id)

    async def unseated(self, room_id: str, peer_id: str) -> None:
        await self._remove_seat(room_id, peer_id, announce=True)

    async def expired(self, room_id: str, peer_id: str) -> None:
        self._owners.pop((room_id, peer_id), None)
        await self._remove_seat(room_id, peer_id, announce=False)

    # --- Redis room directory ----------------------------------------------------------

    def _track(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def _room_key(self, room_id: str) -> str:
        return self.cluster.key("room", room_id)

    @staticmethod
    def _meta(room: Room) -> dict[str, Any]:
        return {"expires_at": room.expires_at, "grace": room.rejoin_grace}

    def _seat_record(self, room_id: str, seat: Seat) -> dict[str, Any]:
        owner = self._owners.get((room_id, seat.peer_id)) if seat.connected else None
        return {"peer_id": seat.peer_id, "role": seat.role, "user_id": seat.user_id,
                "display_name": seat.display_name, "token_id": seat.token_id,
                "instance": owner, "dropped_at": seat.dropped_at}

    async def _store_meta(self, room: Room, *, announce: bool) -> None:
        try:
            pipe = self.cluster.redis.pipeline(transaction=False)
            pipe.hset(self._room_key(room.room_id), "meta", json.dumps(self._meta(room)))
            pipe.expireat(self._room_key(room.room_id), int(room.expires_at) + 60)
            await pipe.execute()
        except (RedisError, OSError):
            log.warning("could not store room", extra={"room_id": room.room_id})
        if announce:
            await self.cluster.publish({"k": "room", "op": "open", "r": room.room_id, "m": self._meta(room)})

    async def _store_seat(self, room_id: str, peer_id: str) -> None:
        room = self._rooms.get(room_id)
        seat = room.seats.get(peer_id) if room else None
        if room is None or seat is None:
            return
        record = self._seat_record(room_id, seat)
        try:
            pipe = self.cluster.redis.pipeline(transaction=False)
            pipe.hset(self._room_key(room_id), mapping={
                "meta": json.dumps(self._meta(room)), f"seat:{peer_id}": json.dumps(record),
                f"tok:{seat.token_id}": "1"})
            pipe.expireat(self._room_key(room_id), int(room.expires_at) + 60)
            await pipe.execute()
        except (RedisError, OSError):
            log.warning("could not store seat", extra={"room_id": room_id})
        await self.cluster.publish({"k": "room", "op": "seat", "r": room_id, "m": self._meta(room), "s": record})

    async def _remove_seat(self, room_id: str, peer_id: str, *, announce: bool) -> None:
        try:
            await self.cluster.redis.hdel(self._room_key(room_id), f"seat:{peer_id}")
        except (RedisError, OSError):
            log.warning("could not remove seat", extra={"room_id": room_id})
        if announce:
            await self.cluster.publish({"k": "room", "op": "unseat", "r": room_id, "p": peer_id})

    async def _store_close(self, room_id: str, reason: str) -> None:
        try:
            await self.cluster.redis.delete(self._room_key(room_id))
        except (RedisError, OSError):
            log.warning("could not delete room", extra={"room_id": room_id})
        await self.cluster.publish({"k": "room", "op": "close", "r": room_id, "why": reason})

    async def _load(self, room_id: str, *, check_owners: bool) -> None:
        """Bring the local replica up to date with Redis (the authoritative copy)."""
        try:
            raw = await self.cluster.redis.hgetall(self._room_key(room_id))
            live = await self.cluster.live_instances() if check_owners else None
        except (RedisError, OSError):
            return  # Redis is away: go on with what we know
        data = {str(k): str(v) for k, v in raw.items()}  # decode_responses: already str
        if not data or "meta" not in data:
            return
        room = self._replica(room_id, json.loads(data["meta"]))
        seen: set[str] = set()
        for field, value in data.items():
            if field.startswith("tok:"):
                room.used_tokens.add(field[4:])
            elif field.startswith("seat:"):
                record = json.loads(value)
                seen.add(record["peer_id"])
                owner = record.get("instance")
                if live is not None and owner and owner != self.instance_id and owner not in live:
                    await self._free_seat_of_dead(room, record, owner)
                else:
                    self._apply_seat(room, record)
        for peer_id, seat in list(room.seats.items()):
            if peer_id not in seen and (seat.conn_id is None or seat.conn_id == REMOTE):
                del room.seats[peer_id]

    def _replica(self, room_id: str, meta: dict[str, Any]) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(room_id, float(meta["expires_at"]), float(meta["grace"]))
        return room

    def _apply_seat(self, room: Room, record: dict[str, Any]) -> None:
        peer_id = record["peer_id"]
        seat = room.seats.get(peer_id)
        if seat is not None and seat.conn_id not in (None, REMOTE) and record.get("instance") == self.instance_id:
            return  # our own socket: we know better
        owner = record.get("instance")
        conn_id = None if owner is None else (REMOTE if owner != self.instance_id else None)
        if owner is not None and owner != self.instance_id:
            self._owners[(room.room_id, peer_id)] = owner
            self.cluster.known_instances.add(owner)
        if seat is None:
            room.seats[peer_id] = Seat(peer_id=peer_id, role=record["role"], user_id=record["user_id"],
                                       display_name=record["display_name"], token_id=record["token_id"],
                                       conn_id=conn_id, dropped_at=record.get("dropped_at"))
        else:
            seat.conn_id, seat.dropped_at, seat.token_id = conn_id, record.get("dropped_at"), record["token_id"]
            seat.display_name = record["display_name"]
        room.used_tokens.add(record["token_id"])

    async def _free_seat_of_dead(self, room: Room, record: dict[str, Any], owner: str) -> None:
        record = {**record, "instance": None, "dropped_at": record.get("dropped_at") or time.time()}
        self._apply_seat(room, record)
        seat = room.seats[record["peer_id"]]
        await self.host.tell_left_here(room, seat, "dropped")
        try:
            await self.cluster.redis.hset(self._room_key(room.room_id), f"seat:{seat.peer_id}", json.dumps(record))
        except (RedisError, OSError):
            pass
        log.info("freed a seat of dead instance %s", owner, extra={"room_id": room.room_id})

    # --- bus events ------------------------------------------------------------------------

    async def _on_room_message(self, msg: dict[str, Any]) -> None:
        op, room_id = msg["op"], msg["r"]
        if op == "close":
            self.host.close_room_here(room_id, msg.get("why", "ended"))
            return
        if op == "unseat":
            room = self._rooms.get(room_id)
            seat = room.seats.get(msg["p"]) if room else None
            if room is not None and seat is not None and seat.conn_id in (None, REMOTE):
                del room.seats[seat.peer_id]
            return
        room = self._replica(room_id, msg["m"])
        room.expires_at = float(msg["m"]["expires_at"])
        if op == "seat":
            self._apply_seat(room, msg["s"])

    async def _on_instance_dead(self, instance: str, claimed: set[int]) -> None:
        await self.host.instance_gone(instance)
        await self.host.adopt_presence(claimed)  # empty unless this instance won the claim
        for room in list(self._rooms.values()):
            for seat in list(room.seats.values()):
                if seat.conn_id == REMOTE and self._owners.get((room.room_id, seat.peer_id)) == instance:
                    record = self._seat_record(room.room_id, seat)
                    await self._free_seat_of_dead(room, {**record, "instance": instance}, instance)

    async def _republish(self) -> None:
        """After Redis came back: our rooms, our seats and our users' presence, once more."""
        for room in list(self._rooms.values()):
            await self._store_meta(room, announce=False)
            for seat in list(room.seats.values()):
                if seat.conn_id not in (None, REMOTE):
                    await self._store_seat(room.room_id, seat.peer_id)
        for user_id in sorted(self.host.connected_users()):
            await self.cluster.publish_presence(self.instance_id, user_id, True)
