"""Imports every area's models so `Base.metadata` is complete (Alembic, tests)."""

from broker.audit.models import AuditEntry
from broker.auth.models import AuthSession, LoginCounter
from broker.booking.models import BookingDecline, BookingEscalation, BookingJobRun
from broker.call.models import Call
from broker.database import Base
from broker.interpreter.models import (
    Absence,
    AvailabilityWindow,
    InterpreterLanguage,
    InterpreterProfile,
    PresenceInterval,
)
from broker.language.models import Language, Purpose
from broker.ledger.models import LedgerEntry, UsageRollup
from broker.notification.models import NotificationPreference, OutboxMessage
from broker.office.models import District, Office
from broker.request.models import IdempotencyKey, InterpretingRequest, Offer
from broker.scheduler.models import Lease
from broker.user.models import User

__all__ = [
    "Absence",
    "AuditEntry",
    "AuthSession",
    "AvailabilityWindow",
    "Base",
    "BookingDecline",
    "BookingEscalation",
    "BookingJobRun",
    "Call",
    "District",
    "IdempotencyKey",
    "InterpreterLanguage",
    "InterpreterProfile",
    "InterpretingRequest",
    "Language",
    "Lease",
    "LedgerEntry",
    "LoginCounter",
    "NotificationPreference",
    "Offer",
    "Office",
    "OutboxMessage",
    "PresenceInterval",
    "Purpose",
    "UsageRollup",
    "User",
]
