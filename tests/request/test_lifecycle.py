"""The request lifecycle as a pure state machine: fed events, it answers with statuses."""

from __future__ import annotations

import pytest

from broker.enums import RequestMode, RequestStatus
from broker.ledger.service import OUTCOME_BY_STATUS
from broker.request import lifecycle
from broker.request.lifecycle import Event, IllegalTransition

S = RequestStatus
ON_DEMAND, BOOKED = RequestMode.ON_DEMAND, RequestMode.BOOKED


def run(mode: RequestMode, *events: Event) -> list[RequestStatus]:
    status = lifecycle.initial(mode)
    seen = [status]
    for event in events:
        status = lifecycle.step(mode, status, event)
        seen.append(status)
    return seen


def test_an_on_demand_call_runs_from_queued_to_completed() -> None:
    """Offered, a decline puts it back in the queue, offered again, accepted, connected, ended."""
    assert run(ON_DEMAND, Event.OFFERED, Event.UNOFFERED, Event.OFFERED, Event.ACCEPTED, Event.CONNECTED,
               Event.ENDED) == [S.QUEUED, S.OFFERED, S.QUEUED, S.OFFERED, S.ACCEPTED, S.CONNECTED, S.COMPLETED]


def test_a_call_ended_before_media_flowed_fails() -> None:
    """Ending an accepted call that never connected is `failed`, not `completed`."""
    assert run(ON_DEMAND, Event.OFFERED, Event.ACCEPTED, Event.ENDED_UNCONNECTED)[-1] is S.FAILED
    with pytest.raises(IllegalTransition):
        run(ON_DEMAND, Event.OFFERED, Event.ACCEPTED, Event.ENDED)


def test_waiting_ends_in_unfilled_cancelled_or_a_callback() -> None:
    """The maximum wait makes it unfilled; the caseworker may cancel or ask for a callback, which queues again."""
    assert run(ON_DEMAND, Event.OFFERED, Event.GAVE_UP)[-1] is S.UNFILLED
    assert run(ON_DEMAND, Event.CANCELLED)[-1] is S.CANCELLED
    assert run(ON_DEMAND, Event.OFFERED, Event.CALLBACK, Event.RING_BACK, Event.OFFERED)[-2:] == [S.QUEUED, S.OFFERED]
    assert run(ON_DEMAND, Event.CALLBACK, Event.CANCELLED)[-1] is S.CANCELLED


def test_a_booking_runs_from_requested_to_completed_or_escalates() -> None:
    """Confirmed, room opened, connected, ended; or nobody connects and it escalates to the pool."""
    assert run(BOOKED, Event.ASSIGNED, Event.ROOM_OPENED, Event.CONNECTED, Event.ENDED) == [
        S.REQUESTED, S.ASSIGNED, S.OPEN, S.CONNECTED, S.COMPLETED]
    assert run(BOOKED, Event.ASSIGNED, Event.ROOM_OPENED, Event.ESCALATED)[-1] is S.ESCALATED
    assert run(BOOKED, Event.ASSIGNED, Event.RELEASED, Event.CANCELLED)[-2:] == [S.REQUESTED, S.CANCELLED]


@pytest.mark.parametrize("mode, events", [
    (ON_DEMAND, (Event.ACCEPTED,)),  # nobody was offered it
    (ON_DEMAND, (Event.OFFERED, Event.ACCEPTED, Event.CANCELLED)),  # an interpreter is on the line: end, not cancel
    (ON_DEMAND, (Event.CANCELLED, Event.OFFERED)),  # final stays final
    (ON_DEMAND, (Event.ASSIGNED,)),  # a booking's event
    (BOOKED, (Event.OFFERED,)),  # bookings are not dispatched
    (BOOKED, (Event.ROOM_OPENED,)),  # no room before the interpreter confirmed
    (BOOKED, (Event.ASSIGNED, Event.ROOM_OPENED, Event.CONNECTED, Event.ESCALATED)),  # too late once connected
])
def test_events_out_of_order_are_refused(mode: RequestMode, events: tuple[Event, ...]) -> None:
    """An event the lifecycle does not allow in the current status raises instead of moving on."""
    with pytest.raises(IllegalTransition):
        run(mode, *events)


def test_final_statuses_have_no_way_out_and_match_the_ledger() -> None:
    """Nothing leaves a final status, every final status is reachable, and each has a ledger outcome
    (the old unused FINAL_REQUEST_STATUSES forgot `escalated`)."""
    for table in lifecycle.TRANSITIONS.values():
        assert not [key for key in table if key[0] in lifecycle.FINAL]
    reachable = {target for table in lifecycle.TRANSITIONS.values() for target in table.values()}
    assert set(lifecycle.FINAL) - {S.NO_SHOW} <= reachable
    assert set(OUTCOME_BY_STATUS) == set(lifecycle.FINAL)
    assert not lifecycle.allowed(ON_DEMAND, S.COMPLETED, S.COMPLETED)


def test_the_named_sets_follow_from_the_transitions() -> None:
    """Cancellable, waiting, connectable and in-call are exactly where the matching event applies."""
    def where(mode: RequestMode, event: Event) -> set[RequestStatus]:
        return {status for (status, e) in lifecycle.TRANSITIONS[mode] if e is event}

    assert where(ON_DEMAND, Event.CANCELLED) == set(lifecycle.CANCELLABLE)
    assert where(ON_DEMAND, Event.GAVE_UP) == set(lifecycle.WAITING)
    assert where(ON_DEMAND, Event.CONNECTED) | where(BOOKED, Event.CONNECTED) == set(lifecycle.CONNECTABLE)
    ended = (where(ON_DEMAND, Event.ENDED) | where(ON_DEMAND, Event.ENDED_UNCONNECTED) | where(BOOKED, Event.ENDED))
    assert ended == set(lifecycle.IN_CALL)
    assert where(BOOKED, Event.ESCALATED) == set(lifecycle.BOOKING_ACTIVE)
    assert set(lifecycle.JOINABLE) == set(lifecycle.IN_CALL) | {S.OPEN}
