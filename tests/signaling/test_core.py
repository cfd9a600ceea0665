"""The hub's sans-I/O core (`signaling.core`), fed events and read without sockets or Redis."""

from __future__ import annotations

import pytest

from signaling.core import ClusterPresence, PresenceOutput, admit
from signaling.rooms import Room, RoomError
from signaling.tokens import issue_join_token

SECRET = "test-secret-key-of-enough-length"
GRACE = 20.0


def _core(instance: str = "a") -> ClusterPresence:
    return ClusterPresence(instance, GRACE, reconnects_per_second=100.0, echo_timeout=5.0)


def test_first_socket_announces_and_reports_online_a_second_socket_says_nothing() -> None:
    core = _core()
    assert core.connect(7, conn_id=1) == PresenceOutput(announce=[(7, True)], changes=[(7, True)])
    assert core.connect(7, conn_id=2) == PresenceOutput()


def test_last_socket_gone_is_announced_after_the_grace_and_reported_when_the_bus_brings_it_back() -> None:
    core = _core()
    core.connect(7, conn_id=1)
    core.disconnect(7, conn_id=1, now=100.0)
    assert core.tick(now=100.0 + GRACE - 0.1, mono=50.0) == PresenceOutput()  # still in grace
    assert core.tick(now=100.0 + GRACE, mono=50.0) == PresenceOutput(announce=[(7, False)])
    assert core.leaving(7)
    assert core.heard("a", 7, False) == PresenceOutput(changes=[(7, False)])
    assert not core.leaving(7)


def test_of_two_instances_the_user_left_at_once_only_the_first_in_bus_order_reports_offline() -> None:
    a, b = _core("a"), _core("b")
    for core, other in ((a, "b"), (b, "a")):
        core.connect(7, conn_id=1)
        core.heard(other, 7, True)
        core.disconnect(7, conn_id=1, now=0.0)
        assert core.tick(now=GRACE, mono=1.0).announce == [(7, False)]
    # The bus order: a's offline first, then b's. Every instance reads both in this order.
    bus = [("a", 7, False), ("b", 7, False)]
    reports = [change for core in (a, b) for msg in bus for change in core.heard(*msg).changes]
    assert reports == [(7, False)]


def test_a_user_back_on_another_instance_before_our_offline_returns_is_not_reported() -> None:
    core = _core("a")
    core.connect(7, conn_id=1)
    core.disconnect(7, conn_id=1, now=0.0)
    core.tick(now=GRACE, mono=1.0)
    core.heard("b", 7, True)
    assert core.heard("a", 7, False) == PresenceOutput()
    assert core.is_online(7)


def test_an_offline_the_bus_lost_is_decided_after_the_echo_timeout() -> None:
    core = _core()
    core.connect(7, conn_id=1)
    core.disconnect(7, conn_id=1, now=0.0)
    core.tick(now=GRACE, mono=10.0)
    assert core.tick(now=GRACE + 4, mono=14.9) == PresenceOutput()
    assert core.tick(now=GRACE + 5, mono=15.0) == PresenceOutput(changes=[(7, False)])
    assert core.heard("a", 7, False) == PresenceOutput()  # a late echo reports nothing twice


def test_a_reconnect_during_the_grace_cancels_the_pending_offline() -> None:
    core = _core()
    core.connect(7, conn_id=1)
    core.disconnect(7, conn_id=1, now=0.0)
    core.tick(now=GRACE, mono=1.0)
    assert core.connect(7, conn_id=2).changes == [(7, True)]
    assert core.heard("a", 7, False) == PresenceOutput()


def test_a_dead_instances_users_go_offline_there_and_adopted_ones_get_a_storm_grace() -> None:
    core = _core("a")
    core.heard("b", 7, True)
    core.heard("b", 8, True)
    core.heard("c", 8, True)
    assert core.instance_dead("b") == PresenceOutput()  # reports come from the claiming instance
    assert core.remote_instances(7) == frozenset() and core.remote_instances(8) == {"c"}
    assert core.adopt({7}, now=0.0) == PresenceOutput(announce=[(7, True)])
    # 1 user at 100 reconnects/s: the grace is stretched by 0.01 s.
    assert core.tick(now=GRACE, mono=1.0) == PresenceOutput()
    assert core.tick(now=GRACE + 0.01, mono=1.0).announce == [(7, False)]


def _token(room_id: str = "call-1", user_id: int | None = 5, role: str = "counter") -> str:
    return issue_join_token(SECRET, room_id=room_id, user_id=user_id, role=role, expires_at=1_000.0)


def _admit(token: str, *, room_id: str = "call-1", signed_in: bool = True, in_room: bool = False,
           open_room: bool = True, now: float = 10.0) -> object:
    room = Room(room_id, 1_000.0, 5.0) if open_room else None
    return admit(secret_key=SECRET, token=token, room_id=room_id, signed_in=signed_in, in_room=in_room,
                 room=room, now=now)


@pytest.mark.parametrize(("case", "code"), [
    ({"token": "not-a-token"}, "token-invalid"),
    ({"now": 2_000.0}, "token-expired"),
    ({"room_id": "call-2"}, "token-wrong-room"),
    ({"signed_in": False}, "unauthorized"),
    ({"in_room": True}, "already-joined"),
    ({"open_room": False}, "room-closed"),
])
def test_admit_refuses_a_join_with_the_reason_the_client_is_told(case: dict[str, object], code: str) -> None:
    options = {"token": _token(), **case}
    with pytest.raises(RoomError) as refused:
        _admit(**options)  # type: ignore[arg-type]
    assert refused.value.code == code


def test_admit_returns_the_claims_of_a_good_token() -> None:
    claims = _admit(_token(user_id=None, role="guest"), signed_in=False)
    assert (claims.room_id, claims.user_id, claims.role) == ("call-1", None, "guest")  # type: ignore[attr-defined]
