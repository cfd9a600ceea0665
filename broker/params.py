"""Shared request parameters: bounded ids and pagination."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.errors import invalid_value


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
        raise invalid_value("iso_datetime",
                            "expected an ISO 8601 date-time with offset, e.g. 2026-12-01T09:00:00+01:00")
    return value


def _plausible_year(value: datetime) -> datetime:
    # Far-off years overflow when converted to UTC; nothing here is planned outside this range.
    if not 2000 <= value.year <= 2099:
        raise invalid_value("year_out_of_range", "date-time must lie between the years 2000 and 2099",
                            first=2000, last=2099)
    return value


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_plausible_year)]


def _refuse_control_characters(value: str, allowed: frozenset[str] = frozenset()) -> str:
    # NUL cannot be stored in PostgreSQL text (a 500 there, silently stored by SQLite), lone
    # surrogates cannot be encoded at all, and other control characters only hide text in
    # names, logs and exports. Refusing them here keeps both databases and every export alike.
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cs"):
            raise invalid_value("control_character", f"control characters are not allowed (U+{ord(char):04X})")
    return value


def _no_control_characters(value: str) -> str:
    return _refuse_control_characters(value)


def _lines_only(value: str) -> str:
    return _refuse_control_characters(value, frozenset("\r\n\t"))


# Every free-text input (body fields and query parameters) uses one of these two types.
Text = Annotated[str, AfterValidator(_no_control_characters)]
# Line-structured protocol text (SDP): line breaks and tabs, nothing else.
LinesText = Annotated[str, AfterValidator(_lines_only)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


async def paginate(db: AsyncSession, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    total = (await db.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    rows = (await db.execute(stmt.limit(params.limit).offset(params.offset))).scalars().all()
    return list(rows), int(total)
