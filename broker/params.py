"""Shared request parameters: bounded ids and pagination."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


T = TypeVar("T")

MAX_ID = 2**31 - 1
# Ids in paths and queries are bounded so no backend overflows on absurd input.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    # pydantic would read "9" as a Unix timestamp; an API for people takes ISO 8601 only.
    if isinstance(value, str | int | float) and not (isinstance(value, str) and _ISO_DATETIME.match(value)):
        raise ValueError("expected an ISO 8601 date-time with offset, e.g. 2026-12-01T09:00:00+01:00")
    return value


def _plausible_year(value: datetime) -> datetime:
    # Far-off years overflow when converted to UTC; nothing here is planned outside this range.
    if not 2000 <= value.year <= 2099:
        raise ValueError("date-time must lie between the years 2000 and 2099")
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_plausible_year)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def paginate(db: AsyncSession, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    total = (await db.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    rows = (await db.execute(stmt.limit(params.limit).offset(params.offset))).scalars().all()
    return list(rows), int(total)
