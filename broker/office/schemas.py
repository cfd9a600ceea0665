from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from broker.enums import OfficeKind
from broker.params import Text


class OfficeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=2, max_length=200)
    kind: OfficeKind
    district_ags: Text = Field(pattern=r"^\d{5}$", description="AGS of the Landkreis / kreisfreie Stadt")


class OfficeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=2, max_length=200)
    kind: OfficeKind | None = None
    district_ags: Text | None = Field(default=None, pattern=r"^\d{5}$")
    active: bool | None = None


class OfficeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: OfficeKind
    district_ags: str
    active: bool


class DistrictRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ags: str
    name: str
    kind: str
