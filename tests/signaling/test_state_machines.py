"""Rooms, presence and the rate limiter, driven synchronously with an explicit clock."""

from __future__ import annotations

import pytest

from signaling.online import Presence
from signaling.ratelimit import TokenBucket
from signaling.redis_backplane import MissingLooks
from signaling.rooms import Room, RoomError
from signaling.tokens import JoinClaims


def claims(role: str, *, user: int | None = None, tid: str | None = None, room: str = "r1") -> JoinClaims:
    token_id = tid or f"t-{role}-{user}"
    return JoinClaims(room_id=room, user_id=user, role=role, expires_at=1e12, token_id=token_id)


def test_room_seats_three_roles_and_refuses_a_fourth() -> None:
    """Counter, interpreter and guest get seats; any fourth join is refused as room-full."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="C", now=0)
    room.join(claims("interpreter", user=2), conn_id=2, user_id=2, display_name="I", now=0)
    room.join(claims("guest"), conn_id=3, user_id=None, display_name="G", now=0)
    with pytest.raises(RoomError) as info:
        room.join(claims("guest", tid="other"), conn_id=4, user_id=None, display_name="G2", now=0)
    assert info.value.code == "room-full"


def test_second_seat_of_a_taken_role_is_refused() -> None:
    """Two counters cannot share a room even when there is space."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="C", now=0)
    with pytest.raises(RoomError) as info:
        room.join(claims("counter", user=9), conn_id=2, user_id=9, display_name="X", now=0)
    assert info.value.code == "room-full"


def test_replayed_token_cannot_take_a_second_seat() -> None:
    """A token whose seat is live is refused; after leaving it stays used."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    guest = claims("guest", tid="g")
    room.join(guest, conn_id=1, user_id=None, display_name="G", now=0)
    with pytest.raises(RoomError) as info:
        room.join(guest, conn_id=2, user_id=None, display_name="G", now=0)
    assert info.value.code == "token-used"
    room.leave(1)
    with pytest.raises(RoomError) as info:
        room.join(guest, conn_id=3, user_id=None, display_name="G", now=1)
    assert info.value.code == "token-used"


def test_dropped_seat_is_rejoined_within_grace_with_the_same_peer_id() -> None:
    """A dropped peer returning with its token within grace gets its seat back."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    first = room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="C", now=0).seat
    room.drop(1, now=10)
    again = room.join(claims("counter", user=1), conn_id=2, user_id=1, display_name="C", now=60)
    assert again.rejoined and again.seat.peer_id == first.peer_id and again.seat.conn_id == 2
    assert room.expire(now=1000) == []


def test_signed_in_user_may_rejoin_with_a_fresh_token() -> None:
    """The same user in the same role reclaims a dropped seat with a newly issued token."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    room.join(claims("interpreter", user=2, tid="a"), conn_id=1, user_id=2, display_name="I", now=0)
    room.drop(1, now=0)
    result = room.join(claims("interpreter", user=2, tid="b"), conn_id=5, user_id=2, display_name="I", now=1)
    assert result.rejoined


def test_seat_is_released_after_the_grace_period() -> None:
    """A seat not reclaimed within grace is freed and its token stays used."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    room.join(claims("guest", tid="g"), conn_id=1, user_id=None, display_name="G", now=0)
    room.drop(1, now=0)
    assert room.expire(now=59.9) == []
    assert [s.role for s in room.expire(now=60)] == ["guest"]
    with pytest.raises(RoomError):
        room.join(claims("guest", tid="g"), conn_id=2, user_id=None, display_name="G", now=61)


def test_token_for_other_room_other_user_or_ended_call_is_refused() -> None:
    """Tokens bind room and user; a closed or expired room admits nobody."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    for bad, user, code in [
        (claims("counter", user=1, room="r2"), 1, "token-wrong-room"),
        (claims("counter", user=1), 2, "token-wrong-user"),
    ]:
        with pytest.raises(RoomError) as info:
            room.join(bad, conn_id=1, user_id=user, display_name="X", now=0)
        assert info.value.code == code
    with pytest.raises(RoomError) as info:
        room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="X", now=1000)
    assert info.value.code == "room-closed"
    room.close()
    with pytest.raises(RoomError):
        room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="X", now=0)


def test_politeness_is_pairwise_by_role() -> None:
    """The interpreter is polite towards the counter; the guest towards both."""
    room = Room("r1", expires_at=1000, rejoin_grace=60)
    c = room.join(claims("counter", user=1), conn_id=1, user_id=1, display_name="C", now=0).seat
    i = room.join(claims("interpreter", user=2), conn_id=2, user_id=2, display_name="I", now=0).seat
    g = room.join(claims("guest"), conn_id=3, user_id=None, display_name="G", now=0).seat
    assert i.polite_towards(c) and not c.polite_towards(i)
    assert g.polite_towards(c) and g.polite_towards(i) and not i.polite_towards(g)


def test_presence_goes_offline_only_after_the_grace_period() -> None:
    """Online on first socket, still online in grace, offline after; a reconnect cancels grace."""
    presence = Presence(grace=20)
    assert presence.connect(7, conn_id=1) is True
    assert presence.connect(7, conn_id=2) is False
    presence.disconnect(7, 1, now=0)
    presence.disconnect(7, 2, now=5)
    assert presence.is_online(7) and presence.in_grace(7)
    assert presence.expire(now=24.9) == []
    assert presence.connect(7, conn_id=3) is False  # came back in time: no transition
    presence.disconnect(7, 3, now=30)
    assert presence.expire(now=50) == [7]
    assert not presence.is_online(7)


def test_adopted_user_is_online_for_one_grace_period_unless_connected() -> None:
    """A dead instance's user adopted here is online until a grace after adoption; a live socket wins."""
    presence = Presence(grace=20)
    assert presence.adopt(8, now=100) is True
    assert presence.adopt(8, now=105) is False  # already online here: the deadline moves, no transition
    assert presence.expire(now=124.9) == [] and presence.is_online(8)
    assert presence.expire(now=125) == [8]
    presence.connect(9, conn_id=1)
    assert presence.adopt(9, now=0) is False
    assert presence.expire(now=1000) == [] and presence.is_online(9)


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    """The bucket admits `burst` messages at once, then `rate` per second."""
    bucket = TokenBucket(rate=10, burst=5, now=0)
    assert [bucket.allow(0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.allow(0.1) is True
    assert bucket.allow(0.1) is False


def test_an_instance_is_dead_only_when_every_look_missed_it_for_a_second() -> None:
    """One missing look (a subscriber reconnecting) frees nothing; a second of missing looks does.
    A look that sees the instance, or a pause in looking, starts the count anew."""
    looks = MissingLooks(1.0)
    assert looks.look({"b"}, now=10.0) == []
    assert looks.look({"b"}, now=10.5) == []
    assert looks.look(set(), now=10.7) == []  # b is back
    assert looks.look({"b", "c"}, now=11.0) == []
    assert looks.look({"b", "c"}, now=11.9) == []
    assert looks.look({"b", "c"}, now=12.0) == ["b", "c"]
    looks.reset()  # Redis was away: no looks
    assert looks.look({"b"}, now=12.1) == []
    looks.discard("b")
    assert looks.look({"b"}, now=13.0) == []
    assert looks.look({"b"}, now=14.0) == ["b"]
