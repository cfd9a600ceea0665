from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from broker.params import Text
from broker.user.schemas import UserRead


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    user: UserRead
