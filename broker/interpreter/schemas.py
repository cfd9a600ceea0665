from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from broker.enums import Gender, InterpreterStatus, Qualification
from broker.errors import invalid_value
from broker.language.schemas import LANGUAGE_CODE
from broker.params import IsoDateTime, Text


class InterpreterLanguageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language_code: Text = Field(pattern=LANGUAGE_CODE, max_length=16)
    qualification: Qualification


class InterpreterLanguageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    language_code: str
    qualification: Qualification


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gender: Gender | None = None
    max_session_minutes: int | None = Field(default=None, ge=10, le=600)
    languages: list[InterpreterLanguageIn] | None = Field(default=None, max_length=50)

    @model_validator(mode="after")
    def _unique_languages(self) -> ProfileUpdate:
        if self.languages is not None:
            codes = [item.language_code for item in self.languages]
            if len(codes) != len(set(codes)):
                raise invalid_value("duplicate_language_entry", "each language may appear once")
        return self


class ProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    gender: Gender | None
    max_session_minutes: int
    status: InterpreterStatus
    online: bool
    wants_offers: bool
    missed_offers: int
    languages: list[InterpreterLanguageRead]


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start_time: time
    end_time: time

    @field_validator("start_time", "end_time")
    @classmethod
    def _local(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise invalid_value("time_with_offset", "times are local (Europe/Berlin) and carry no offset")
        return value

    @field_validator("end_time")
    @classmethod
    def _order(cls, value: time, info: ValidationInfo) -> time:
        # On the end field, so the refusal names the field a person corrects.
        start = info.data.get("start_time")
        if start is not None and start >= value:
            raise invalid_value("window_order", "start_time must be before end_time")
        return value


class WindowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    start_time: time
    end_time: time


class AvailabilityPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    windows: list[WindowIn] = Field(max_length=100)


class AbsenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: IsoDateTime
    ends_at: IsoDateTime
    note: Text | None = Field(default=None, max_length=200)

    @field_validator("ends_at")
    @classmethod
    def _order(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and start >= value:
            raise invalid_value("absence_order", "starts_at must be before ends_at")
        return value


class AbsenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    starts_at: datetime
    ends_at: datetime
    note: str | None


class StatusChoice(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


class StatusUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: StatusChoice


class StatusRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    status: InterpreterStatus
    online: bool
    wants_offers: bool
    missed_offers: int
    minutes_since_break: int
    max_session_minutes: int
    idle_since: datetime | None
    status_changed_at: datetime
