"""Redis pub/sub backplane: several app instances act as one signalling hub.

Transport only: one channel (`<prefix>:bus`) carries every frame — to a user's sockets, to
one peer of a room, presence changes and room-directory changes — as a small JSON envelope.
One channel keeps the order a publisher wrote in (a `call-join` event never overtakes the
room it names). Every instance hears everything and delivers what concerns its own sockets;
at the programme's scale (a few hundred sockets) that is cheaper than per-user channels.

Liveness needs no heartbeat keys: each instance names its Redis connections `vd-<id>`, and
an instance whose subscriber connection is gone from `CLIENT LIST` has died (the kernel
closes a killed process's sockets at once). An instance missing from every look for a second
(one missing look could be a glitch, and freeing a live instance's seats breaks its calls) is
dead: the room directory (signaling/cluster.py) frees its seats, and exactly one survivor claims
the dead instance's users (its `<prefix>:presence:<id>` set, read and deleted atomically):
they stay online there for one grace period and are then reported offline by it, unless
they reconnected somewhere meanwhile. A gracefully stopped instance leaves its set behind
for the same claim.

Presence listeners (the broker's "interpreter offline") fire for a cluster-wide transition
only: an instance that publishes "offline" decides when its own message comes back over the
bus, in the one order every instance sees, whether anyone else still holds the user.

Publishing never waits for Redis (signaling/outbox.py): a frame for this instance's own
sockets is delivered here at once, and the envelope goes into a bounded outbox that one
writer sends with a short timeout. Redis loss or a hung Redis: local delivery goes on, the
outbox holds what the other instances should hear and sends it, in order, once Redis answers
again and they listen again (the replay); `state` is then `down` for /healthz and /metrics.
The reader reconnects with backoff and then asks the hub to publish its state again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from signaling.backplane import BackplaneReceiver
from signaling.outbox import Item, Outbox

log = logging.getLogger(__name__)

NAME_PREFIX = "vd-"
LISTENERS_WAIT_SECONDS = 5.0  # after an outage, how long the backlog waits for the others to resubscribe
GONE_AFTER_SECONDS = 1.0  # an instance missing from CLIENT LIST this long (every look) is dead
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class MissingLooks:
    """Which instances each look at CLIENT LIST has missed for `after` seconds (pure, for the watch)."""

    def __init__(self, after: float) -> None:
        self.after = after
        self._since: dict[str, float] = {}

    def look(self, missing: Iterable[str], now: float) -> list[str]:
        """One look found `missing` absent; those absent from every look since `after` ago are dead."""
        self._since = {i: self._since.get(i, now) for i in missing}
        return sorted(i for i, since in self._since.items() if now - since >= self.after)

    def reset(self) -> None:
        """No look now (Redis away, or others still reconnecting): absence starts counting anew."""
        self._since.clear()

    def discard(self, instance: str) -> None:
        self._since.pop(instance, None)


class RedisBackplane:
    def __init__(self, url: str, *, prefix: str = "vd", instance_id: str | None = None,
                 watch_seconds: float = 0.5) -> None:
        self.url = url
        self.prefix = prefix
        self.instance_id = instance_id or secrets.token_hex(4)
        self.channel = f"{prefix}:bus"
        self.watch_seconds = watch_seconds
        self.connected = asyncio.Event()
        # Set by the cluster hub: room-directory messages, a peer instance died, we reconnected.
        self.on_room_message: Handler | None = None
        self.on_instance_dead: Callable[[str, set[int]], Awaitable[None]] | None = None
        self.on_reconnect: Callable[[], Awaitable[None]] | None = None
        self.known_instances: set[str] = set()
        self._missing = MissingLooks(GONE_AFTER_SECONDS)
        self._receiver: BackplaneReceiver | None = None
        self._redis: Redis | None = None
        self._subscriber: Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._quiet_until = 0.0  # after (re)connecting, let the others reconnect before judging them
        # Checked by the loops besides cancelling them: redis-py can swallow a cancellation that
        # lands inside a command, and a loop that missed it would keep stop() waiting for ever.
        self._stopping = False
        self._probe_ok = True  # the watch loop's last look at Redis answered in time
        self.outbox = Outbox(self._write)
        self.outbox.before_resume = self._await_listeners

    @property
    def state(self) -> str:
        """`ok`, or `down` while Redis is unreachable or hung (this instance serves its own sockets)."""
        return "ok" if self.connected.is_set() and self.outbox.healthy and self._probe_ok else "down"

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "backplane not started"
        return self._redis

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # --- Backplane protocol --------------------------------------------------------------

    async def start(self, receiver: BackplaneReceiver) -> None:
        self._receiver = receiver
        self._stopping = False
        name = f"{NAME_PREFIX}{self.instance_id}"
        common: dict[str, Any] = {"decode_responses": True, "client_name": name, "socket_connect_timeout": 2,
                                  "socket_timeout": 5, "health_check_interval": 5}
        # Commands: after a Redis restart every pooled connection is dead, and without an explicit
        # error list redis-py gives up on the first stale one ("Connection closed by server"), so
        # reconnect quickly instead. Timeouts are not retried: a hung Redis fails fast (the outbox holds).
        self._redis = Redis.from_url(
            self.url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError], **common)
        # The subscription must NOT reconnect silently: a lost subscription means Redis may have
        # lost its state, and the reader republishes ours only when it sees the loss.
        self._subscriber = Redis.from_url(self.url, retry=Retry(ExponentialBackoff(), 0), **common)
        self.outbox.start()
        self._tasks = [asyncio.create_task(self._read_forever(), name="redis-backplane-reader"),
                       asyncio.create_task(self._watch_forever(), name="redis-backplane-watch")]
        try:
            async with asyncio.timeout(10):
                await self.connected.wait()
        except TimeoutError:
            log.error("Redis backplane could not connect; retrying in the background")

    async def stop(self, receiver: BackplaneReceiver) -> None:
        if receiver is self._receiver:
            self._receiver = None
        self._stopping = True
        await self.outbox.stop()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            if pending:
                log.warning("Redis backplane tasks did not stop in time", extra={"instance_id": self.instance_id})
        self._tasks = []
        if self._redis is not None:
            # The presence set stays (for a while): a surviving instance claims our users as it
            # would a crashed instance's, so their offline is reported one grace period later.
            with contextlib.suppress(RedisError, OSError):
                await self.redis.expire(self.key("presence", self.instance_id), 3600)
            await self._redis.aclose()
            self._redis = None
        if self._subscriber is not None:
            await self._subscriber.aclose()
            self._subscriber = None

    async def publish_user(self, user_id: int, frame: str) -> None:
        if self._receiver is not None:  # our own sockets need no Redis (and get it first)
            await self._receiver.deliver_to_user(user_id, frame)
        await self.publish({"k": "u", "u": user_id, "f": frame})

    async def publish_room(self, room_id: str, peer_id: str, frame: str) -> None:
        if self._receiver is not None:
            await self._receiver.deliver_to_peer(room_id, peer_id, frame)
        await self.publish({"k": "p", "r": room_id, "p": peer_id, "f": frame})

    async def publish_presence(self, instance_id: str, user_id: int, online: bool) -> None:
        set_op = ("sadd" if online else "srem", self.key("presence", instance_id), str(user_id))
        self._put({"k": "o", "i": instance_id, "u": user_id, "on": online}, set_op)
        if self.state == "down" and self._receiver is not None:
            # The bus will not bring our own message back soon: the hub decides about offline now.
            await self._receiver.deliver_presence(instance_id, user_id, online)

    # --- helpers for the cluster hub ------------------------------------------------------

    async def publish(self, envelope: dict[str, Any]) -> bool:
        """Queue an envelope for the bus; returns at once (True: queued)."""
        self._put(envelope, None)
        return True

    def _put(self, envelope: dict[str, Any], set_op: tuple[str, str, str] | None) -> None:
        envelope["from"] = self.instance_id
        self.outbox.put(json.dumps(envelope, separators=(",", ":")), set_op)

    async def _write(self, item: Item) -> None:
        """The outbox's one writer: presence bookkeeping and the message in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        if item.set_op is not None:
            op, key, member = item.set_op
            if op == "sadd":
                pipe.sadd(key, member)
            else:
                pipe.srem(key, member)
        pipe.publish(self.channel, item.message)
        await pipe.execute()

    async def _await_listeners(self) -> None:
        """Before a backlog goes out: let the other instances resubscribe first (a frame published
        while nobody listens is gone), for a few seconds at most."""
        deadline = time.monotonic() + LISTENERS_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.known_instances - {self.instance_id} <= await self.live_instances():
                return
            await asyncio.sleep(0.1)

    async def live_instances(self) -> set[str]:
        """Instances whose subscriber connection Redis currently holds."""
        clients = await self.redis.client_list(_type="pubsub")
        return {c["name"][len(NAME_PREFIX):] for c in clients if c.get("name", "").startswith(NAME_PREFIX)}

    async def online_elsewhere(self, live: Iterable[str]) -> dict[str, list[int]]:
        """Users online on each other live instance (for a fresh instance's view of presence)."""
        out: dict[str, list[int]] = {}
        for instance in live:
            if instance != self.instance_id:
                members = await self.redis.smembers(self.key("presence", instance))
                out[instance] = [int(m) for m in members]
        return out

    # --- internals -------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        delay = 0.1
        first = True
        while not self._stopping:
            assert self._subscriber is not None
            pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                self._quiet_until = time.monotonic() + (0 if first else 3.0)
                if not first:
                    log.warning("Redis backplane reconnected", extra={"instance_id": self.instance_id})
                await self._after_subscribe(reconnected=not first)
                first, delay = False, 0.1
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        await self._dispatch(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("Redis backplane connection lost (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _after_subscribe(self, *, reconnected: bool) -> None:
        """Republish our state and learn the others'. A failure here (a pooled connection that
        died with the old server) is retried and must not drop the fresh subscription: every
        resubscription is a gap in which frames for this instance are lost."""
        for attempt in range(3):
            try:
                if reconnected and self.on_reconnect is not None:
                    await self.on_reconnect()
                    reconnected = False
                await self._sync_presence()
                return
            except (RedisError, OSError) as exc:
                log.warning("resync after subscribing failed (%s), attempt %d", type(exc).__name__, attempt + 1)
                await asyncio.sleep(0.1)

    async def _dispatch(self, data: str) -> None:
        receiver = self._receiver
        try:
            msg = json.loads(data)
            kind = msg["k"]
            if receiver is None:
                return
            if kind in ("u", "p") and msg.get("from") == self.instance_id:
                return  # delivered here already when it was published
            if kind == "u":
                await receiver.deliver_to_user(int(msg["u"]), msg["f"])
            elif kind == "p":
                await receiver.deliver_to_peer(msg["r"], msg["p"], msg["f"])
            elif kind == "o":
                if msg["i"] != self.instance_id:
                    self.known_instances.add(msg["i"])
                await receiver.deliver_presence(msg["i"], int(msg["u"]), bool(msg["on"]))
            elif kind == "room" and msg.get("from") != self.instance_id and self.on_room_message is not None:
                await self.on_room_message(msg)
        except Exception:
            log.exception("could not deliver a backplane message")

    async def _sync_presence(self) -> None:
        """Learn who is online on the other instances (after start or a reconnect)."""
        if self._receiver is None:
            return
        live = await self.live_instances()
        for instance, users in (await self.online_elsewhere(live)).items():
            self.known_instances.add(instance)
            for user_id in users:
                await self._receiver.deliver_presence(instance, user_id, True)

    async def _watch_forever(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.watch_seconds)
            if not self.connected.is_set() or time.monotonic() < self._quiet_until or not self.known_instances:
                self._missing.reset()  # a second of missing means a second of looks
                continue
            try:
                live = await asyncio.wait_for(self.live_instances(), 1.0)
                self._probe_ok = True
            except (RedisError, OSError, TimeoutError):
                self._probe_ok = False  # a hung Redis: nothing fails, it just never answers
                self._missing.reset()
                continue
            for instance in self._missing.look(self.known_instances - live - {self.instance_id}, time.monotonic()):
                await self.forget_instance(instance)

    async def forget_instance(self, instance: str) -> None:
        """A peer instance died: its sockets are gone, so are its users' presence and seats.

        Its presence set is read and deleted in one MULTI/EXEC, so of all survivors exactly one
        gets the users (the claim); that one carries their grace period and reports them offline.
        """
        self.known_instances.discard(instance)
        self._missing.discard(instance)
        log.warning("instance %s is gone; freeing its seats and presence", instance,
                    extra={"instance_id": instance})
        claimed: set[int] = set()
        with contextlib.suppress(RedisError, OSError):
            pipe = self.redis.pipeline(transaction=True)
            pipe.smembers(self.key("presence", instance))
            pipe.delete(self.key("presence", instance))
            members, _ = await pipe.execute()
            claimed = {int(user_id) for user_id in members}
        if self._receiver is not None:
            for user_id in claimed:
                await self._receiver.deliver_presence(instance, user_id, False)
        if self.on_instance_dead is not None:
            try:
                await self.on_instance_dead(instance, claimed)
            except Exception:
                log.exception("freeing a dead instance's seats failed")
