"""Bookings and proposals as the pages show them: names instead of codes, looked up in batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.booking import availability
from broker.booking.models import BookingEscalation
from broker.booking.schemas import BookingRead, Names, ProposalRead
from broker.booking.service import ACTIVE, is_late
from broker.config import Settings
from broker.database import utcnow
from broker.interpreter.models import InterpreterLanguage
from broker.language.models import Language, Purpose
from broker.office.models import Office
from broker.request.models import InterpretingRequest
from broker.user.models import User


async def describe(*, db: AsyncSession, bookings: Sequence[InterpretingRequest], settings: Settings,
                   now: datetime | None = None) -> list[BookingRead]:
    now = now or utcnow()
    ids = [b.id for b in bookings]
    people = {b.interpreter_id for b in bookings if b.interpreter_id is not None}
    languages = {row.code: row for row in (await db.execute(select(Language).where(
        Language.code.in_({b.language_code for b in bookings})))).scalars()}
    purposes = {row.code: row for row in (await db.execute(select(Purpose).where(
        Purpose.code.in_({b.purpose for b in bookings})))).scalars()}
    offices = dict((await db.execute(select(Office.id, Office.name).where(
        Office.id.in_({b.office_id for b in bookings})))).all())
    names = dict((await db.execute(select(User.id, User.display_name).where(User.id.in_(people)))).all())
    escalations = dict((await db.execute(select(BookingEscalation.booking_id, BookingEscalation.request_id).where(
        BookingEscalation.booking_id.in_(ids)))).all())
    out = []
    for booking in bookings:
        read = BookingRead.model_validate(booking)
        language, purpose = languages.get(booking.language_code), purposes.get(booking.purpose)
        read.language = Names(code=language.code, name_de=language.name_de, name_en=language.name_en) \
            if language else None
        read.purpose_names = Names(code=purpose.code, name_de=purpose.name_de, name_en=purpose.name_en) \
            if purpose else None
        read.office_name = offices.get(booking.office_id)
        read.interpreter_name = names.get(booking.interpreter_id) if booking.interpreter_id else None
        read.escalated_to = escalations.get(booking.id)
        read.cancel_is_late = booking.status in ACTIVE and is_late(booking, settings, now)
        out.append(read)
    return out


async def proposals(*, db: AsyncSession, found: Sequence[availability.Candidate]) -> list[ProposalRead]:
    """Proposals with every language each person interprets, so two equal names can be told apart."""
    spoken: dict[int, list[str]] = defaultdict(list)
    rows = await db.execute(select(InterpreterLanguage.interpreter_id, InterpreterLanguage.language_code).where(
        InterpreterLanguage.interpreter_id.in_([c.user_id for c in found])).order_by(
        InterpreterLanguage.language_code))
    for user_id, code in rows.all():
        spoken[user_id].append(code)
    return [ProposalRead(interpreter_id=c.user_id, display_name=c.display_name, username=c.username,
                         languages=spoken[c.user_id], qualification=c.qualification, gender=c.gender,
                         booked_minutes_this_month=c.booked_minutes) for c in found]
