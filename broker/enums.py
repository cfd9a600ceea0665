"""Enumerations shared by models, schemas and the web front end (values are the wire format)."""

from enum import StrEnum

from sqlalchemy import Enum as SAEnum


def db_enum(enum_cls: type[StrEnum], name: str) -> SAEnum:
    """A portable enum column: VARCHAR plus a CHECK constraint, same on SQLite and PostgreSQL."""
    return SAEnum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Role(StrEnum):
    CASEWORKER = "caseworker"
    INTERPRETER = "interpreter"
    MANAGER = "manager"
    ADMIN = "admin"


class OfficeKind(StrEnum):
    IMMIGRATION_OFFICE = "immigration_office"
    JOB_CENTRE = "job_centre"
    SOCIAL_WELFARE_OFFICE = "social_welfare_office"
    YOUTH_WELFARE_OFFICE = "youth_welfare_office"
    RECEPTION_CENTRE = "reception_centre"
    STATE_OFFICE = "state_office"
    OTHER = "other"


class Qualification(StrEnum):
    """Ordered from strongest to weakest; `rank` gives the order for dispatch."""

    SWORN = "sworn"
    CERTIFIED = "certified"
    TRAINED = "trained"
    OTHER = "other"

    @property
    def rank(self) -> int:
        return list(Qualification).index(self)


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    DIVERSE = "diverse"


class InterpreterStatus(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    AWAY = "away"
    OFFERED = "offered"
    IN_SESSION = "in_session"
    WRAP_UP = "wrap_up"


class RequestMode(StrEnum):
    ON_DEMAND = "on_demand"
    BOOKED = "booked"


class Media(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class QualificationWish(StrEnum):
    ANY = "any"
    CERTIFIED = "certified"  # certified or sworn
    SWORN = "sworn"


class RequestStatus(StrEnum):
    # on demand
    QUEUED = "queued"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    CONNECTED = "connected"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    UNFILLED = "unfilled"
    FAILED = "failed"
    CALLBACK = "callback"  # left the queue, waits for an interpreter to come online
    # bookings
    REQUESTED = "requested"
    ASSIGNED = "assigned"
    OPEN = "open"
    NO_SHOW = "no_show"
    ESCALATED = "escalated"


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REVOKED = "revoked"


class CallStatus(StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    ENDED = "ended"


class LedgerOutcome(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"  # by the caseworker before an interpreter was found (abandoned)
    UNFILLED = "unfilled"
    NO_INTERPRETER = "no_interpreter"  # no registered interpreter speaks the language
    NO_SHOW = "no_show"
    ESCALATED = "escalated"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
