"""The hub: one per app. Holds this instance's sockets, rooms and presence; the broker's API.

The state machines (`Room`, `Presence`) decide; the hub only wires them to sockets, the
backplane and a single timer task (heartbeat, grace periods, room expiry), so thousands of
idle sockets cost no task of their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.websockets import WebSocket

from signaling import protocol as p
from signaling.backplane import Backplane
from signaling.connection import CLOSE_GOING_AWAY, CLOSE_SIGNED_OUT, CLOSE_SILENT, CLOSE_SLOW, Connection
from signaling.core import ClusterPresence, PresenceOutput, admit
from signaling.directory import InMemoryRooms, RoomDirectory
from signaling.echo import EchoPeers
from signaling.online import Presence
from signaling.principal import Principal
from signaling.ratelimit import TokenBucket
from signaling.rooms import Room, RoomError, Seat
from signaling.tokens import issue_join_token
from signaling.turn import ice_servers

log = logging.getLogger(__name__)
SIGNED_OUT = "signed-out"
# A sign-out travels on the user's channel like any event, so it reaches every instance; the
# receiving hub recognises it by this prefix (events are made by the server, never by clients).
_SIGNED_OUT_PREFIX = p.serialize(p.Event(event={"type": SIGNED_OUT}))[:-len('},"replay":false}')]

Authenticate = Callable[[WebSocket], Awaitable[Principal | None]]


class AuthRefused(Exception):
    """`authenticate` refuses the socket outright (a presented token is invalid or revoked),
    rather than letting it open anonymously as a guest's does."""
CurrentState = Callable[[int], Awaitable[list[dict[str, Any]]]]
# Spends a guest link in the broker's database (room id, token): raises RoomError when the link
# was replaced by a newer one or was used before, also before a restart.
AdmitGuest = Callable[[str, str], Awaitable[None]]
PresenceListener = Callable[[int, bool], Awaitable[None]]


class Hub:
    def __init__(
        self,
        *,
        settings: Any,
        backplane: Backplane,
        authenticate: Authenticate,
        current_state: CurrentState | None = None,
        heartbeat_seconds: float = 15.0,
        silence_timeout_seconds: float = 30.0,
        rate_per_second: float = 50.0,
        rate_burst: float = 150.0,
        send_timeout_seconds: float = 5.0,
        tick_seconds: float = 0.25,
        instance_id: str | None = None,
        directory: RoomDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.backplane = backplane
        self.authenticate = authenticate
        self.current_state = current_state
        self.admit_guest: AdmitGuest | None = None
        self.heartbeat_seconds = heartbeat_seconds
        self.silence_timeout_seconds = silence_timeout_seconds
        self.rate_per_second = rate_per_second
        self.rate_burst = rate_burst
        self.send_timeout_seconds = send_timeout_seconds
        self.tick_seconds = min(tick_seconds, heartbeat_seconds / 3)
        self.presences = ClusterPresence(instance_id or secrets.token_hex(4),
                                         settings.presence_grace_seconds,
                                         reconnects_per_second=settings.reconnect_rate_per_second)
        self.echo = EchoPeers(
            limit=settings.echo_peer_limit,
            lifetime=settings.echo_peer_seconds,
            ice_servers=[{"urls": list(settings.stun_urls)}] if settings.stun_urls else [],
        )
        self._conns: dict[int, Connection] = {}
        self._by_user: dict[int, set[Connection]] = {}
        self._rooms: dict[str, Room] = {}  # this instance's copy; the directory holds the authoritative one
        self._listeners: list[PresenceListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.directory: RoomDirectory = directory or InMemoryRooms()
        self.directory.attach(self)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.backplane.start(self)
        self._ticker = asyncio.create_task(self._tick_forever(), name="signaling-hub-ticker")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        await self.close_sockets()
        await self.echo.close_all()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.backplane.stop(self)

    async def close_sockets(self) -> None:
        """Close every socket with 1001 (going away): its client reconnects, via the proxy, elsewhere."""
        await asyncio.gather(
            *(c.close(CLOSE_GOING_AWAY, "server shutting down") for c in list(self._conns.values())),
            return_exceptions=True,
        )

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await coro
            except Exception:
                log.exception("signalling background task failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- the broker's API ----------------------------------------------------------------

    async def notify(self, user_id: int, event: dict[str, Any]) -> None:
        """Deliver an event frame to every socket of the user, on any instance."""
        await self.directory.settle()  # a call-join event must not overtake the room it names
        await self.backplane.publish_user(user_id, p.serialize(p.Event(event=event)))

    async def sign_out(self, user_id: int, session_id: int | None = None) -> None:
        """Close the user's sockets opened with this session (None: every session), on every
        instance: after logout, deactivation or a password change nothing may keep listening."""
        event: dict[str, Any] = {"type": SIGNED_OUT}
        if session_id is not None:
            event["session_id"] = session_id
        await self.backplane.publish_user(user_id, p.serialize(p.Event(event=event)))

    @property
    def instance_id(self) -> str:
        return self.presences.instance_id

    @property
    def presence(self) -> Presence:
        """This instance's own presence: sockets here and grace periods run here."""
        return self.presences.local

    def is_online(self, user_id: int) -> bool:
        return self.presences.is_online(user_id)

    def local_users(self) -> set[int]:
        """Users this instance holds (sockets or grace); it proves them alive (heartbeat)."""
        return self.presence.users()

    def add_presence_listener(self, callback: PresenceListener) -> None:
        self._listeners.append(callback)

    @property
    def rooms(self) -> dict[str, Room]:
        return self._rooms

    def connected_users(self) -> set[int]:
        """Users with a socket open on this instance (not those in their grace period)."""
        return set(self._by_user)

    async def flush(self) -> None:
        """Wait (briefly) for the room directory's writes in flight."""
        await self.directory.settle()

    def open_room(self, room_id: str, *, expires_at: datetime) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(room_id, expires_at.timestamp(), self.settings.rejoin_grace_seconds)
        else:
            room.expires_at = expires_at.timestamp()
        self.directory.opened(room)

    def close_room(self, room_id: str, reason: str = "ended") -> asyncio.Task[None]:
        """End the call now, on every instance: its tokens become useless at once; awaiting the
        task is optional."""
        task = self.close_room_here(room_id, reason)
        self.directory.closed(room_id, reason)
        return task

    def close_room_here(self, room_id: str, reason: str) -> asyncio.Task[None]:
        """End the call on this instance (the directory says it ended elsewhere)."""
        room = self._rooms.pop(room_id, None)
        seats = room.close() if room else []
        return self._spawn(self._tell_closed(room_id, seats, reason))

    def issue_join_token(self, room_id: str, *, user_id: int | None, role: str, expires_at: datetime) -> str:
        room = self._rooms.get(room_id)
        if room is None:
            raise KeyError(f"room {room_id!r} is not open")
        # A token never outlives its call.
        expiry = min(expires_at.timestamp(), room.expires_at)
        return issue_join_token(
            self.settings.secret_key, room_id=room_id, user_id=user_id, role=role, expires_at=expiry
        )

    async def room_occupied(self, room_id: str) -> bool:
        """Is anyone connected to the room (here, or on another instance)? A seat held for a
        dropped peer's rejoin does not count: nobody is there."""
        await self.directory.refresh(room_id, check_owners=True)  # this copy may never have seen the room
        room = self._rooms.get(room_id)
        return room is not None and any(seat.connected for seat in room.seats.values())

    def ice_servers(self, user_id: int | str | None) -> list[dict[str, object]]:
        s = self.settings
        return ice_servers(
            stun_urls=s.stun_urls,
            turn_urls=s.turn_urls,
            turn_secret=s.turn_secret,
            user=str(user_id if user_id is not None else "guest"),
            now=time.time(),
            ttl=s.turn_ttl_seconds,
        )

    def room_ids(self) -> list[str]:
        return list(self._rooms)

    @property
    def connection_count(self) -> int:
        return len(self._conns)

    # --- sockets (called by the handler) -----------------------------------------------

    async def register(self, ws: WebSocket, principal: Principal | None) -> Connection:
        now = time.monotonic()
        bucket = TokenBucket(self.rate_per_second, self.rate_burst, now)
        conn = Connection(ws, principal, bucket, now, self.send_timeout_seconds)
        self._conns[conn.id] = conn
        if principal is not None:
            self._by_user.setdefault(principal.user_id, set()).add(conn)
            await self._carry_out(self.presences.connect(principal.user_id, conn.id))
        return conn

    async def unregister(self, conn: Connection) -> None:
        conn.closed = True
        self._conns.pop(conn.id, None)
        if conn.room_id is not None:
            await self._drop_seat(conn)
        user_id = conn.user_id
        if user_id is not None:
            sockets = self._by_user.get(user_id)
            if sockets is not None:
                sockets.discard(conn)
                if not sockets:
                    del self._by_user[user_id]
            self.presences.disconnect(user_id, conn.id, time.time())

    async def hello(self, conn: Connection, msg: p.Hello) -> None:
        if msg.version != p.PROTOCOL_VERSION:
            raise p.ProtocolError("version-unsupported", f"server speaks version {p.PROTOCOL_VERSION}")
        conn.hello_done = True
        await conn.send(
            p.serialize(p.Welcome(user_id=conn.user_id, heartbeat_seconds=self.heartbeat_seconds))
        )
        if conn.user_id is not None and self.current_state is not None:
            for event in await self.current_state(conn.user_id):
                await conn.send(p.serialize(p.Event(event=event, replay=True)))

    async def join(self, conn: Connection, msg: p.Join) -> None:
        await self.directory.settle()
        async with self.directory.joining(msg.room):
            await self.directory.refresh(msg.room, check_owners=True)
            await self._seat(conn, msg)
            if conn.room_id == msg.room and conn.peer_id is not None:
                await self.directory.seat_changed(msg.room, conn.peer_id)

    async def _seat(self, conn: Connection, msg: p.Join) -> None:
        now = time.time()
        room = self._rooms.get(msg.room)
        claims = admit(secret_key=self.settings.secret_key, token=msg.token, room_id=msg.room,
                       signed_in=conn.user_id is not None, in_room=conn.room_id is not None, room=room, now=now)
        assert room is not None  # admit refuses a join to a room that is not open
        if claims.role == "guest" and self.admit_guest is not None and not room.holds_token(claims.token_id):
            # A refusal (the guest seat still held for a dropped guest) must not spend the link. Once
            # admitted, nobody else can take the free guest seat meanwhile: that needs the latest link,
            # which the database spends once.
            room.admission(claims, conn_id=conn.id, user_id=conn.user_id, now=now)
            await self.admit_guest(room.room_id, msg.token)  # a guest's reconnect to its seat skips this
        name = conn.principal.display_name if conn.principal else claims.role
        result = room.join(claims, conn_id=conn.id, user_id=conn.user_id, display_name=name, now=now)
        seat = result.seat
        conn.room_id, conn.peer_id = room.room_id, seat.peer_id
        others = room.others(seat)
        await conn.send(p.serialize(p.Joined(
            room=room.room_id,
            peer_id=seat.peer_id,
            role=seat.role,
            rejoined=result.rejoined,
            peers=[_info(o, polite=seat.polite_towards(o)) for o in others],
            ice_servers=[p.IceServer.model_validate(s) for s in self.ice_servers(conn.user_id)],
        )))
        for other in others:
            frame = p.PeerJoined(room=room.room_id, peer=_info(seat, polite=other.polite_towards(seat)),
                                 rejoined=result.rejoined)
            await self.backplane.publish_room(room.room_id, other.peer_id, p.serialize(frame))

    async def leave(self, conn: Connection) -> None:
        room_id, peer_id = conn.room_id, conn.peer_id
        if room_id is not None:
            await self.directory.refresh(room_id, check_owners=False)  # tell peers that joined a moment ago too
        room = self._rooms.get(room_id) if room_id else None
        seat = room.leave(conn.id) if room else None
        conn.room_id = conn.peer_id = None
        if room is not None and seat is not None:
            await self._tell_left(room, seat, "left")
        if room_id is not None and peer_id is not None:
            await self.directory.unseated(room_id, peer_id)

    async def relay(self, conn: Connection, msg: p.RelayedMessage) -> None:
        room = self._rooms.get(conn.room_id) if conn.room_id else None
        if room is None or conn.peer_id is None:
            raise RoomError("not-in-room", "join a room first")
        target = room.seats.get(msg.to)
        if target is None or not target.connected:
            await self.directory.refresh(room.room_id, check_owners=False)  # its seat may be on its way
            target = room.seats.get(msg.to)
        if target is None or target.peer_id == conn.peer_id:
            raise RoomError("unknown-peer", "no such peer in this room")
        if not target.connected:
            raise RoomError("peer-unavailable", "the peer's connection dropped; wait for it to rejoin")
        await self.backplane.publish_room(room.room_id, target.peer_id, p.stamp_sender(msg, conn.peer_id))

    # --- backplane receiver -------------------------------------------------------------

    async def deliver_to_user(self, user_id: int, frame: str) -> None:
        if frame.startswith(_SIGNED_OUT_PREFIX):
            await self._close_signed_out(user_id, frame)
            return
        for conn in list(self._by_user.get(user_id, ())):
            if conn.hello_done:
                await conn.send(frame)

    async def _close_signed_out(self, user_id: int, frame: str) -> None:
        session_id = json.loads(frame)["event"].get("session_id")
        ending = [c for c in self._by_user.get(user_id, ())
                  if session_id is None or (c.principal is not None and c.principal.session_id == session_id)]
        for conn in ending:
            if conn.hello_done:
                await conn.send(frame)  # the page learns why, then the close follows
        await asyncio.gather(*(c.close(CLOSE_SIGNED_OUT, "signed out") for c in ending),
                             return_exceptions=True)

    async def deliver_to_peer(self, room_id: str, peer_id: str, frame: str) -> None:
        room = self._rooms.get(room_id)
        seat = room.seats.get(peer_id) if room else None
        conn = self._conns.get(seat.conn_id) if seat and seat.conn_id is not None else None
        if conn is not None:
            await conn.send(frame)

    async def deliver_presence(self, instance_id: str, user_id: int, online: bool) -> None:
        await self._carry_out(self.presences.heard(instance_id, user_id, online))

    async def instance_gone(self, instance_id: str) -> None:
        """Another instance died: the users only it held are offline there."""
        await self._carry_out(self.presences.instance_dead(instance_id))

    # --- internals ------------------------------------------------------------------------

    async def adopt_presence(self, user_ids: set[int]) -> None:
        """Users of a dead instance, claimed by this one: online here for one grace period more;
        then offline (reported by us) unless they reconnected somewhere meanwhile."""
        await self._carry_out(self.presences.adopt(user_ids, time.time()))

    async def _carry_out(self, out: PresenceOutput) -> None:
        """Do what the presence core decided: announce on the bus, then tell the listeners."""
        for user_id, online in out.announce:
            await self.backplane.publish_presence(self.instance_id, user_id, online)
        for user_id, online in out.changes:
            for listener in self._listeners:
                self._spawn(listener(user_id, online))

    async def _drop_seat(self, conn: Connection) -> None:
        room_id, peer_id = conn.room_id, conn.peer_id
        if room_id is not None:
            await self.directory.refresh(room_id, check_owners=False)  # tell peers that joined a moment ago too
        room = self._rooms.get(room_id) if room_id else None
        seat = room.drop(conn.id, time.time()) if room else None
        conn.room_id = conn.peer_id = None
        if room is not None and seat is not None:
            await self._tell_left(room, seat, "dropped")
        if room_id is not None and peer_id is not None and room_id in self._rooms:
            await self.directory.seat_changed(room_id, peer_id)

    async def _tell_left(self, room: Room, seat: Seat, reason: str) -> None:
        frame = _peer_left(room, seat, reason)
        for other in room.others(seat):
            if other.connected:
                await self.backplane.publish_room(room.room_id, other.peer_id, frame)

    async def tell_left_here(self, room: Room, seat: Seat, reason: str) -> None:
        """Tell the room's sockets on this instance only that the seat is gone."""
        frame = _peer_left(room, seat, reason)
        for other in room.others(seat):
            await self.deliver_to_peer(room.room_id, other.peer_id, frame)

    async def _tell_closed(self, room_id: str, seats: list[Seat], reason: str) -> None:
        frame = p.serialize(p.RoomClosed(room=room_id, reason=reason))
        for seat in seats:
            conn = self._conns.get(seat.conn_id) if seat.conn_id is not None else None
            if conn is not None and conn.room_id == room_id:
                conn.room_id = conn.peer_id = None
                await conn.send(frame)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                await self._tick(time.time(), time.monotonic())
            except Exception:
                log.exception("signalling hub tick failed")

    async def _tick(self, now: float, mono: float) -> None:
        await self._carry_out(self.presences.tick(now, mono))
        for room in list(self._rooms.values()):
            if now >= room.expires_at:
                self.close_room(room.room_id, "expired")
                continue
            for seat in room.expire(now):
                # Every instance expires its copy of the room at the same moment: each tells its own.
                await self.tell_left_here(room, seat, "expired")
                await self.directory.expired(room.room_id, seat.peer_id)
        await self._heartbeat(mono)

    async def _heartbeat(self, mono: float) -> None:
        silent, idle, slow = [], [], []
        for conn in self._conns.values():
            if conn.sending and conn.expire_sends(mono):
                slow.append(conn)
                continue
            quiet = mono - conn.last_seen
            if quiet >= self.silence_timeout_seconds:
                silent.append(conn)
            elif quiet >= self.heartbeat_seconds and mono - conn.last_ping >= self.heartbeat_seconds:
                conn.last_ping = mono
                idle.append(conn)
        if not (silent or idle or slow):
            return
        ping = p.serialize(p.Ping())
        # In the background: a close or ping to a socket that does not read must not stall the ticker.
        self._spawn(asyncio.gather(
            *(c.close(CLOSE_SLOW, "too slow to receive") for c in slow),
            *(c.close(CLOSE_SILENT, "no heartbeat") for c in silent),
            *(c.send(ping) for c in idle),
            return_exceptions=True,
        ))


def _peer_left(room: Room, seat: Seat, reason: str) -> str:
    grace = room.rejoin_grace if reason == "dropped" else None
    return p.serialize(p.PeerLeft(room=room.room_id, peer_id=seat.peer_id, reason=reason, grace_seconds=grace))


def _info(seat: Seat, *, polite: bool) -> p.PeerInfo:
    return p.PeerInfo(peer_id=seat.peer_id, role=seat.role, display_name=seat.display_name,
                      polite=polite)
