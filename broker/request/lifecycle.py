"""The request lifecycle: which status may follow which, and the named sets every area uses
(tuples, so they go straight into SQL `IN`).

Pure and free of I/O: `step(mode, status, event)` says where an event leads (or raises
`IllegalTransition`), `allowed(mode, before, after)` whether a move is legal. Services decide
*that* something happens (under the request's row lock); this module decides what it means
for the status, and `dispatch.move` — the one place a request's status and version are
written — refuses a move this table does not know.

On demand:  queued ⇄ offered → accepted → connected → completed
            waiting → cancelled | unfilled | callback;  callback → queued;  accepted → failed
Booked:     requested → assigned → open → connected → completed
            requested | assigned | open → requested (interpreter released) | cancelled | escalated
            open → no_show is reserved for the ledger (no code path sets it today)
"""

from __future__ import annotations

from enum import StrEnum

from broker.enums import RequestMode, RequestStatus

S = RequestStatus

WAITING = (S.QUEUED, S.OFFERED)  # in the on-demand queue (offered: an offer rings)
CANCELLABLE = (S.QUEUED, S.OFFERED, S.CALLBACK)  # the caseworker may still withdraw
IN_CALL = (S.ACCEPTED, S.CONNECTED)  # an interpreter is with the caller; `end` applies
CONNECTABLE = (S.ACCEPTED, S.OPEN)  # media may start flowing (on demand, booked)
JOINABLE = (*IN_CALL, S.OPEN)  # a call whose room a party may (re)join
BOOKING_ACTIVE = (S.REQUESTED, S.ASSIGNED, S.OPEN)  # a booking not yet started or over
# Every final status has exactly one ledger row (`broker.ledger.service.OUTCOME_BY_STATUS`).
FINAL = (S.COMPLETED, S.FAILED, S.CANCELLED, S.UNFILLED, S.NO_SHOW, S.ESCALATED)
LIVE = (*WAITING, *JOINABLE)  # what a reconnecting socket must hear about


class Event(StrEnum):
    OFFERED = "offered"  # dispatch found at least one interpreter
    UNOFFERED = "unoffered"  # every offer ended (declined, expired, revoked) and nobody new rings
    ACCEPTED = "accepted"
    CONNECTED = "connected"  # a party reported media
    ENDED = "ended"  # a party ended the call
    ENDED_UNCONNECTED = "ended_unconnected"  # ended before media ever flowed
    CANCELLED = "cancelled"
    CALLBACK = "callback"  # the caseworker left the queue to be called back
    RING_BACK = "ring_back"  # an interpreter for the callback is free: queue again
    GAVE_UP = "gave_up"  # the maximum wait passed
    ASSIGNED = "assigned"  # the booked interpreter confirmed
    RELEASED = "released"  # the booked interpreter declined or cancelled: find another
    ROOM_OPENED = "room_opened"
    ESCALATED = "escalated"  # nobody connected in time: the need goes to the on-demand pool


_ON_DEMAND: dict[tuple[RequestStatus, Event], RequestStatus] = {
    (S.QUEUED, Event.OFFERED): S.OFFERED,
    (S.OFFERED, Event.OFFERED): S.OFFERED,  # a cascade: the next interpreter rings
    (S.OFFERED, Event.UNOFFERED): S.QUEUED,
    (S.QUEUED, Event.UNOFFERED): S.QUEUED,
    (S.OFFERED, Event.ACCEPTED): S.ACCEPTED,
    (S.ACCEPTED, Event.CONNECTED): S.CONNECTED,
    (S.ACCEPTED, Event.ENDED_UNCONNECTED): S.FAILED,
    (S.CONNECTED, Event.ENDED): S.COMPLETED,
    **{(waiting, Event.CANCELLED): S.CANCELLED for waiting in CANCELLABLE},
    **{(waiting, Event.CALLBACK): S.CALLBACK for waiting in WAITING},
    **{(waiting, Event.GAVE_UP): S.UNFILLED for waiting in WAITING},
    (S.CALLBACK, Event.RING_BACK): S.QUEUED,
}
_BOOKED: dict[tuple[RequestStatus, Event], RequestStatus] = {
    (S.REQUESTED, Event.ASSIGNED): S.ASSIGNED,
    **{(active, Event.RELEASED): S.REQUESTED for active in BOOKING_ACTIVE},
    (S.ASSIGNED, Event.ROOM_OPENED): S.OPEN,
    (S.OPEN, Event.CONNECTED): S.CONNECTED,
    (S.CONNECTED, Event.ENDED): S.COMPLETED,
    **{(active, Event.CANCELLED): S.CANCELLED for active in BOOKING_ACTIVE},
    **{(active, Event.ESCALATED): S.ESCALATED for active in BOOKING_ACTIVE},
}
TRANSITIONS: dict[RequestMode, dict[tuple[RequestStatus, Event], RequestStatus]] = {
    RequestMode.ON_DEMAND: _ON_DEMAND, RequestMode.BOOKED: _BOOKED}


class IllegalTransition(Exception):
    """A service tried a move the lifecycle does not allow: a bug, never a user's mistake."""


def step(mode: RequestMode, status: RequestStatus, event: Event) -> RequestStatus:
    """The status `event` leads to from `status` (raises `IllegalTransition` if it may not happen)."""
    try:
        return TRANSITIONS[mode][(status, event)]
    except KeyError:
        raise IllegalTransition(f"{mode.value} request: {event.value} is not allowed in {status.value}") from None


def allowed(mode: RequestMode, before: RequestStatus, after: RequestStatus) -> bool:
    """True if some event moves a request of this mode from `before` to `after` (or it stays)."""
    if before is after:
        return before not in FINAL
    return any(s is before and target is after for (s, _e), target in TRANSITIONS[mode].items())


def require(mode: RequestMode, before: RequestStatus, after: RequestStatus) -> None:
    if not allowed(mode, before, after):
        raise IllegalTransition(f"{mode.value} request: {before.value} → {after.value} is not allowed")


def initial(mode: RequestMode) -> RequestStatus:
    return S.QUEUED if mode is RequestMode.ON_DEMAND else S.REQUESTED


def is_final(status: RequestStatus) -> bool:
    return status in FINAL


def named_sets() -> dict[str, list[str]]:
    """The named sets as the browser reads them (`GET /api/requests/lifecycle`): the pages decide
    what a status means from this table, never from a copy of their own."""
    sets = {"waiting": WAITING, "cancellable": CANCELLABLE, "in_call": IN_CALL, "joinable": JOINABLE,
            "booking_active": BOOKING_ACTIVE, "final": FINAL}
    return {name: [status.value for status in statuses] for name, statuses in sets.items()}
