"""Rankings managers act on: languages by unmet demand, fastest-growing offices and districts,
and what each interpreter is owed per month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.enums import LedgerOutcome, RequestMode
from broker.interpreter.models import InterpreterLanguage
from broker.ledger.models import LedgerEntry as L
from broker.report import figures, service, timekeys
from broker.report.schemas import (
    Grouping,
    GrowthReport,
    GrowthRow,
    PayRow,
    ReportFilters,
    UnmetRow,
)
from broker.user.models import User

GROWTH_GROUPINGS = (Grouping.OFFICE, Grouping.DISTRICT, Grouping.LANGUAGE, Grouping.OFFICE_KIND)


async def unmet_ranking(*, db: AsyncSession, filters: ReportFilters) -> list[UnmetRow]:
    """Languages ordered by unmet demand (most first), with why it went unmet."""
    names = await service.validate_filters(db=db, filters=filters)
    abandoned = (L.outcome == LedgerOutcome.CANCELLED) & (L.mode == RequestMode.ON_DEMAND)
    stmt = (
        select(
            L.language_code,
            service.SUMS["demand"],
            service.SUMS["unmet"],
            service._count_if(L.outcome == LedgerOutcome.UNFILLED),
            service._count_if(abandoned),
            service._count_if(L.outcome == LedgerOutcome.NO_INTERPRETER),
        )
        .where(*service.conditions(filters))
        .group_by(L.language_code)
    )
    registered = dict(
        (
            await db.execute(
                select(InterpreterLanguage.language_code, func.count()).group_by(InterpreterLanguage.language_code)
            )
        ).all()
    )
    rows = [
        UnmetRow(
            language=code,
            language_name=names.languages.get(code, code),
            demand=int(demand),
            unmet=int(unmet),
            unmet_share=figures.share(unmet, demand),
            unfilled=int(unfilled),
            abandoned=int(gone),
            no_interpreter=int(none),
            interpreters_registered=int(registered.get(code, 0)),
        )
        for code, demand, unmet, unfilled, gone, none in await db.execute(stmt)
    ]
    rows.sort(key=lambda r: (-r.unmet, -(r.unmet_share or 0), r.language))
    return rows


def _months_back(day: date, months: int) -> date:
    """The first day of the month `months` before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


async def growth(
    *, db: AsyncSession, filters: ReportFilters, by: Grouping, months: int = 6, limit: int = 20
) -> GrowthReport:
    """Requests in the last `months` whole months against the `months` before, biggest rise first."""
    if by not in GROWTH_GROUPINGS:
        raise service.ReportInputError("by", [by.value], [g.value for g in GROWTH_GROUPINGS])
    names = await service.validate_filters(db=db, filters=filters)
    last_day = filters.date_to or datetime.now(UTC).astimezone(timekeys.LOCAL_TZ).date()
    recent_from = _months_back(last_day, months - 1)
    previous_from = _months_back(last_day, 2 * months - 1)
    previous_to = recent_from - timedelta(days=1)
    window = filters.model_copy(update={"date_from": previous_from, "date_to": last_day})
    split, _ = timekeys.period_bounds(recent_from, None)
    column = service.DIMENSION_COLUMNS[by]
    stmt = (
        select(
            column,
            func.sum(case((L.requested_at < split, 1), else_=0)),
            func.sum(case((L.requested_at >= split, 1), else_=0)),
        )
        .where(*service.conditions(window))
        .group_by(column)
    )
    rows = []
    for key, previous, recent in await db.execute(stmt):
        plain = service._plain(key)
        rows.append(
            GrowthRow(
                key=str(plain),
                label=names.of(by, plain),
                previous=int(previous),
                recent=int(recent),
                change=int(recent) - int(previous),
                change_pct=round((int(recent) - int(previous)) / int(previous), 4) if previous else None,
            )
        )
    rows.sort(key=lambda r: (-r.change, r.key))
    return GrowthReport(
        by=by,
        previous_from=previous_from,
        previous_to=previous_to,
        recent_from=recent_from,
        recent_to=last_day,
        rows=rows[:limit],
    )


async def pay(*, db: AsyncSession, filters: ReportFilters) -> list[PayRow]:
    """Per interpreter and local month: sessions, talk and billable minutes, late cancellations.

    Billable minutes round each session up to the started minute, the usual fee basis.
    """
    await service.validate_filters(db=db, filters=filters)
    (month,) = await service.key_columns(db=db, filters=filters, group_by=[Grouping.MONTH])
    connected = L.connected_at.is_not(None)
    stmt = (
        select(
            L.interpreter_id,
            month,
            service._count_if(connected),
            func.sum(case((connected, L.talk_seconds), else_=0)),
            func.sum(case((connected, (L.talk_seconds + 59) // 60), else_=0)),
            service.SUMS["late_cancellations"],
        )
        .where(*service.conditions(filters), L.interpreter_id.is_not(None))
        .group_by(L.interpreter_id, month)
    )
    people = dict((await db.execute(select(User.id, User.display_name))).all())
    rows = [
        PayRow(
            interpreter_id=int(who),
            interpreter_name=people.get(who, f"#{who}"),
            month=str(when),
            sessions=int(sessions),
            talk_minutes=round(int(talk) / 60, 1),
            billable_minutes=int(billable),
            late_cancellations=int(late),
        )
        for who, when, sessions, talk, billable, late in await db.execute(stmt)
        if sessions or late
    ]
    rows.sort(key=lambda r: (r.month, r.interpreter_name, r.interpreter_id))
    return rows
