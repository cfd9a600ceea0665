"""A hub whose rooms span instances: the room directory lives in Redis.

The plain `Hub` keeps rooms in memory, which is right for one process. With several
instances a counter on A and an interpreter on B sit in one room, and when A dies the
counter rejoins its seat on B. So every instance keeps a *replica* of each room, and the
authoritative copy is a Redis hash per room (`<prefix>:room:<id>`: `meta`, `seat:<peer>`,
`tok:<token id>`). The hub's own state machines still decide; this subclass only
(1) loads the room from Redis before a join and when a relay target is unknown,
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
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

from redis.exceptions import LockError, RedisError

from signaling import protocol as p
from signaling.connection import Connection
from signaling.hub import Authenticate, Hub
from signaling.redis_backplane import RedisBackplane
from signaling.rooms import Room, Seat

log = logging.getLogger(__name__)
REMOTE = -1  # conn id of a seat connected on another instance (real conn ids start at 1)
FLUSH_SECONDS = 0.25


class ClusterHub(Hub):
    def __init__(self, *, settings: Any, backplane: RedisBackplane, authenticate: Authenticate,
                 **options: Any) -> None:
        super().__init__(settings=settings, backplane=backplane, authenticate=authenticate,
                         instance_id=backplane.instance_id, **options)
        self.cluster = backplane
        self._owners: dict[tuple[str, str], str] = {}  # (room, peer) -> instance holding the socket
        self._pending: set[asyncio.Task[None]] = set()
        backplane.on_room_message = self._on_room_message
        backplane.on_instance_dead = self._on_instance_dead
        backplane.on_reconnect = self._republish

    # --- broker API: rooms open and close everywhere ------------------------------------

    def open_room(self, room_id: str, *, expires_at: datetime) -> None:
        super().open_room(room_id, expires_at=expires_at)
        self._track(self._store_meta(self._rooms[room_id], announce=True))

    def close_room(self, room_id: str, reason: str = "ended") -> asyncio.Task[None]:
        task = super().close_room(room_id, reason)
        self._track(self._store_close(room_id, reason))
        return task

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:
        await self.flush()  # a call-join event must not overtake the room it names
        await super().notify(user_id, event)

    async def room_occupied(self, room_id: str) -> bool:
        """Ask the authoritative copy: this instance's replica may never have seen the room."""
        await self._load(room_id, check_owners=True)
        return await super().room_occupied(room_id)

    async def flush(self) -> None:
        """Wait for the room-directory writes in flight, briefly: with Redis hung they wait for
        the socket timeout, and an HTTP response must not (the bus messages are queued in order)."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=FLUSH_SECONDS)

    # --- sockets -------------------------------------------------------------------------

    async def join(self, conn: Connection, msg: p.Join) -> None:
        """Joins to one room are serialised by a Redis lock, so two people joining at once on
        two instances see each other: the second finds the first's seat and offers to it."""
        await self.flush()
        lock = self.cluster.redis.lock(self.cluster.key("lock", msg.room), timeout=5, blocking_timeout=3)
        try:
            locked = bool(await lock.acquire())
        except (RedisError, OSError):
            locked = False
        try:
            await self._load(msg.room, check_owners=True)
            await super().join(conn, msg)
            if conn.room_id == msg.room and conn.peer_id is not None:
                self._owners[(msg.room, conn.peer_id)] = self.instance_id
                await self._store_seat(msg.room, conn.peer_id)
        finally:
            if locked:
                with contextlib.suppress(RedisError, OSError, LockError):
                    await lock.release()

    async def leave(self, conn: Connection) -> None:
        room_id, peer_id = conn.room_id, conn.peer_id
        if room_id is not None:
            await self._load(room_id, check_owners=False)  # tell peers that joined a moment ago too
        await super().leave(conn)
        if room_id is not None and peer_id is not None:
            await self._remove_seat(room_id, peer_id, announce=True)

    async def relay(self, conn: Connection, msg: p.RelayedMessage) -> None:
        room = self._rooms.get(conn.room_id) if conn.room_id else None
        target = room.seats.get(msg.to) if room is not None else None
        if room is not None and (target is None or not target.connected):
            await self._load(room.room_id, check_owners=False)  # its seat may be on its way to us
        await super().relay(conn, msg)

    async def _drop_seat(self, conn: Connection) -> None:
        room_id, peer_id = conn.room_id, conn.peer_id
        if room_id is not None:
            await self._load(room_id, check_owners=False)  # tell peers that joined a moment ago too
        await super()._drop_seat(conn)
        if room_id is not None and peer_id is not None and room_id in self._rooms:
            await self._store_seat(room_id, peer_id)

    async def _tell_left(self, room: Room, seat: Seat, reason: str) -> None:
        if reason != "expired":
            await super()._tell_left(room, seat, reason)
            return
        # Every instance expires its replica at the same moment: each tells its own sockets only.
        self._owners.pop((room.room_id, seat.peer_id), None)
        await self._tell_local(room, seat, reason)
        await self._remove_seat(room.room_id, seat.peer_id, announce=False)

    async def _tell_local(self, room: Room, seat: Seat, reason: str) -> None:
        grace = room.rejoin_grace if reason == "dropped" else None
        frame = p.serialize(p.PeerLeft(room=room.room_id, peer_id=seat.peer_id, reason=reason,
                                       grace_seconds=grace))
        for other in room.others(seat):
            if other.conn_id is not None and other.conn_id != REMOTE:
                await self.deliver_to_peer(room.room_id, other.peer_id, frame)

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
        await self._tell_local(room, seat, "dropped")
        try:
            await self.cluster.redis.hset(self._room_key(room.room_id), f"seat:{seat.peer_id}", json.dumps(record))
        except (RedisError, OSError):
            pass
        log.info("freed a seat of dead instance %s", owner, extra={"room_id": room.room_id})

    # --- bus events ------------------------------------------------------------------------

    async def _on_room_message(self, msg: dict[str, Any]) -> None:
        op, room_id = msg["op"], msg["r"]
        if op == "close":
            Hub.close_room(self, room_id, msg.get("why", "ended"))
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
        await self.instance_gone(instance)
        await self.adopt_presence(claimed)  # empty unless this instance won the claim
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
        for user_id in list(self._by_user):
            await self.cluster.publish_presence(self.instance_id, user_id, True)
