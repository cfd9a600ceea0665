from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from broker.params import Text

LANGUAGE_CODE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class LanguageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Text = Field(pattern=LANGUAGE_CODE, description="BCP 47 or ISO 639-3 code, e.g. ar, prs, gsg")
    name_de: Text | None = Field(default=None, min_length=1, max_length=120)
    name_en: Text | None = Field(default=None, min_length=1, max_length=120)
    name_native: Text | None = Field(default=None, min_length=1, max_length=120)
    rtl: bool | None = None
    sign_language: bool | None = None


class LanguageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_de: Text | None = Field(default=None, min_length=1, max_length=120)
    name_en: Text | None = Field(default=None, min_length=1, max_length=120)
    name_native: Text | None = Field(default=None, min_length=1, max_length=120)
    rtl: bool | None = None
    sign_language: bool | None = None
    active: bool | None = None


class LanguageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_de: str
    name_en: str
    name_native: str
    rtl: bool
    sign_language: bool
    active: bool


class PurposeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Text = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")
    name_de: Text = Field(min_length=1, max_length=120)
    name_en: Text = Field(min_length=1, max_length=120)
    sort_order: int = Field(default=0, ge=0, le=10_000)


class PurposeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_de: Text | None = Field(default=None, min_length=1, max_length=120)
    name_en: Text | None = Field(default=None, min_length=1, max_length=120)
    sort_order: int | None = Field(default=None, ge=0, le=10_000)
    active: bool | None = None


class PurposeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_de: str
    name_en: str
    sort_order: int
    active: bool
