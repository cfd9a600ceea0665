from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from broker.enums import OutboxStatus
from broker.notification.kinds import Kind


class PreferenceItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    email: bool


class PreferencesRead(BaseModel):
    items: list[PreferenceItem]


class PreferencesUpdate(BaseModel):
    """Choices to change; kinds not listed keep their setting."""

    model_config = ConfigDict(extra="forbid")

    items: list[PreferenceItem]


class OutboxRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    user_id: int
    kind: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    recipient: str | None
    subject: str | None


class OutboxDetail(OutboxRead):
    payload: str
    rendered: str | None
