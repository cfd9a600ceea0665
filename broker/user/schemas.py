from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from broker.enums import Role
from broker.errors import invalid_value
from broker.params import Text

Username = str


def _email(value: Any, handler: ValidatorFunctionWrapHandler) -> str:
    try:
        return str(handler(value))
    except ValidationError as exc:
        # pydantic's refusal is a generic `value_error`: give it a code the pages can say in words.
        raise invalid_value("email_format", "not a valid e-mail address (it needs an @ and a domain)") from exc


Email = Annotated[EmailStr, WrapValidator(_email)]
Locale = Literal["de", "en"]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Text = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$", description="lower case, 3–64 chars")
    display_name: Text = Field(min_length=1, max_length=120)
    email: Email | None = None
    role: Role
    office_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    password: Text = Field(min_length=1, max_length=256, description="at least 12 characters, not a common password")
    locale: Locale = "de"


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: Text | None = Field(default=None, min_length=1, max_length=120)
    email: Email | None = None
    role: Role | None = None
    office_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    password: Text | None = Field(default=None, min_length=1, max_length=256)
    locale: Locale | None = None
    active: bool | None = None


class ProfileSelfUpdate(BaseModel):
    """What every signed-in user may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    locale: Locale | None = None
    email: Email | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    email: str | None
    role: Role
    office_id: int | None
    locale: str
    active: bool
