"""A scenario fitted from this installation: usage ledger, offers and presence history.

* Demand: on-demand and booked ledger rows per language and local hour of the week over the last
  `weeks`, divided by how often that hour occurred → arrivals per hour. Unfilled and cancelled
  requests count: they are demand. Rows refused up front (`no_interpreter`) do not: no one could
  ever have taken them, and a language nobody speaks cannot be simulated.
* Talk: mean talk seconds per language of answered rows (on demand and booked separately).
* Human side: mean accept delay (first offer → accept) from the ledger; decline and no-answer
  shares from the offers table (kept for the retention period).
* Interpreters: active interpreter accounts with their languages; presence per hour of the week
  from the presence history (each hour of the week a window part whose attendance is the share of
  the weeks that person was online then); without any history, their weekly availability windows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import Settings
from broker.enums import InterpreterStatus, LedgerOutcome, OfferStatus, RequestMode
from broker.interpreter.models import AvailabilityWindow, InterpreterLanguage, InterpreterProfile, PresenceInterval
from broker.ledger.models import LedgerEntry, local_keys
from broker.request.models import Offer
from broker.routing.scenario import HOURS_PER_WEEK, Scenario, ScenarioError, parse_scenario
from broker.user.models import User

ONLINE = (InterpreterStatus.AVAILABLE, InterpreterStatus.OFFERED, InterpreterStatus.IN_SESSION,
          InterpreterStatus.WRAP_UP)
ATTENDANCE_STEP = 0.05  # an hour's share of weeks online, rounded to this, is its window's attendance


def hour_occurrences(start: datetime, end: datetime) -> list[int]:
    """How often each local hour of the week begins in [start, end)."""
    counts = [0] * HOURS_PER_WEEK
    probe = start.replace(minute=0, second=0, microsecond=0)
    while probe < end:
        counts[local_keys(probe)[1]] += 1
        probe += timedelta(hours=1)
    return counts


async def _demand(db: AsyncSession, start: datetime, end: datetime, counts: list[int]) -> tuple[
        dict[str, list[float]], dict[str, list[float]], dict[tuple[str, RequestMode], float], dict[str, float]]:
    rows = await db.execute(
        select(LedgerEntry.language_code, LedgerEntry.mode, LedgerEntry.local_how, func.count())
        .where(LedgerEntry.requested_at >= start, LedgerEntry.requested_at < end,
               LedgerEntry.outcome != LedgerOutcome.NO_INTERPRETER)
        .group_by(LedgerEntry.language_code, LedgerEntry.mode, LedgerEntry.local_how))
    on_demand: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    booked: dict[str, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    for code, mode, how, count in rows:
        target = on_demand if mode is RequestMode.ON_DEMAND else booked
        if counts[int(how)]:
            target[code][int(how)] += int(count) / counts[int(how)]
    talk_rows = await db.execute(
        select(LedgerEntry.language_code, LedgerEntry.mode, func.avg(LedgerEntry.talk_seconds))
        .where(LedgerEntry.requested_at >= start, LedgerEntry.requested_at < end, LedgerEntry.talk_seconds > 0)
        .group_by(LedgerEntry.language_code, LedgerEntry.mode))
    talk = {(code, mode): float(mean) for code, mode, mean in talk_rows}
    kinds = await db.execute(
        select(LedgerEntry.office_kind, func.count())
        .where(LedgerEntry.requested_at >= start, LedgerEntry.requested_at < end)
        .group_by(LedgerEntry.office_kind))
    return on_demand, booked, talk, {kind.value: float(n) for kind, n in kinds}


async def _service(db: AsyncSession, start: datetime, end: datetime, settings: Settings) -> dict[str, Any]:
    service: dict[str, Any] = {"max_wait_seconds": settings.max_wait_seconds,
                               "offer_timeout_seconds": settings.offer_timeout_seconds,
                               "wrap_up_seconds": settings.wrap_up_seconds}
    delays = (await db.execute(
        select(LedgerEntry.first_offered_at, LedgerEntry.accepted_at)
        .where(LedgerEntry.requested_at >= start, LedgerEntry.requested_at < end,
               LedgerEntry.mode == RequestMode.ON_DEMAND, LedgerEntry.accepted_at.is_not(None),
               LedgerEntry.first_offered_at.is_not(None)))).all()
    if delays:
        seconds = [max(0.0, (accepted - offered).total_seconds()) for offered, accepted in delays
                   if offered is not None and accepted is not None]
        if seconds:
            service["accept_delay_seconds"] = min(settings.offer_timeout_seconds, sum(seconds) / len(seconds))
    offers = dict((await db.execute(
        select(Offer.status, func.count()).where(Offer.created_at >= start, Offer.created_at < end)
        .group_by(Offer.status))).all())
    answered = sum(offers.get(s, 0) for s in (OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED))
    if answered:
        service["decline_probability"] = min(0.9, offers.get(OfferStatus.DECLINED, 0) / answered)
        service["no_answer_probability"] = min(0.09, offers.get(OfferStatus.EXPIRED, 0) / answered)
    return service


def _windows_from_hours(share: list[float]) -> list[dict[str, Any]]:
    """Each hour's share of weeks online → windows that carry it as their attendance.

    Hours are rounded to ATTENDANCE_STEP, and neighbouring hours of one day with the same rounded
    share become one window, so a shift worked in 40 % of the weeks stays one shift that the
    simulator draws in 40 % of the weeks. Every hour keeps its expected time online (to within
    half a step): dropping the hours below some threshold made the fitted pool shrink the longer
    the history, as chance stopped pushing hours over it.
    """
    rounded = [min(1.0, round(value / ATTENDANCE_STEP) * ATTENDANCE_STEP) for value in share]
    windows: list[dict[str, Any]] = []
    how = 0
    while how < HOURS_PER_WEEK:
        chance = rounded[how]
        if chance <= 0:
            how += 1
            continue
        begin = how
        how += 1
        while how < HOURS_PER_WEEK and how % 24 != 0 and rounded[how] == chance:
            how += 1
        day, hour = divmod(begin, 24)
        windows.append({"days": [day], "start_hour": hour, "end_hour": hour + (how - begin),
                        "attendance": round(chance, 2)})
    return windows


async def _interpreters(db: AsyncSession, start: datetime, end: datetime, counts: list[int]) -> list[dict[str, Any]]:
    rows = (await db.execute(
        select(InterpreterLanguage.interpreter_id, InterpreterLanguage.language_code,
               InterpreterLanguage.qualification)
        .join(InterpreterProfile, InterpreterProfile.user_id == InterpreterLanguage.interpreter_id)
        .join(User, User.id == InterpreterLanguage.interpreter_id)
        .where(User.active.is_(True)))).all()
    languages: dict[int, list[str]] = defaultdict(list)
    best_rank: dict[int, int] = {}
    for who, code, qualification in rows:
        languages[who].append(code)
        best_rank[who] = min(best_rank.get(who, 3), qualification.rank)
    online: dict[int, list[float]] = defaultdict(lambda: [0.0] * HOURS_PER_WEEK)
    history = await db.execute(
        select(PresenceInterval.interpreter_id, PresenceInterval.started_at, PresenceInterval.ended_at)
        .where(PresenceInterval.status.in_(ONLINE), PresenceInterval.started_at < end,
               (PresenceInterval.ended_at.is_(None)) | (PresenceInterval.ended_at > start)))
    for who, began, ended in history:
        cursor, stop = max(began, start), min(ended or end, end)
        while cursor < stop:
            next_hour = cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            online[who][local_keys(cursor)[1]] += (min(next_hour, stop) - cursor).total_seconds() / 3600
            cursor = next_hour
    availability: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for who, weekday, begin, finish in await db.execute(
            select(AvailabilityWindow.interpreter_id, AvailabilityWindow.weekday, AvailabilityWindow.start_time,
                   AvailabilityWindow.end_time)):
        availability[who].append({"days": [weekday], "start_hour": begin.hour + begin.minute / 60,
                                  "end_hour": finish.hour + finish.minute / 60})
    pools = []
    for who in sorted(languages):
        if online:  # the installation records presence: trust what happened
            share = [online[who][h] / counts[h] if counts[h] else 0.0 for h in range(HOURS_PER_WEEK)]
            windows = _windows_from_hours(share)
        else:
            windows = availability.get(who, [])
        if windows:
            pools.append({"languages": sorted(languages[who]), "count": 1, "windows": windows,
                          "attendance": 1.0, "qualification_rank": best_rank[who]})
    return pools


async def fit_scenario(*, db: AsyncSession, weeks: int, settings: Settings, now: datetime | None = None) -> Scenario:
    """The last `weeks` of this installation as a scenario (raises ScenarioError naming what is missing)."""
    if not 1 <= weeks <= 104:
        raise ScenarioError("weeks", "must lie between 1 and 104")
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(weeks=weeks)
    counts = hour_occurrences(start, end)
    on_demand, booked, talk, kinds = await _demand(db, start, end, counts)
    if not on_demand and not booked:
        raise ScenarioError("ledger", f"no requests in the last {weeks} weeks to fit demand from")
    pools = await _interpreters(db, start, end, counts)
    if not pools:
        raise ScenarioError("pools", "no active interpreter with languages and presence (history or windows)")
    codes = sorted(set(on_demand) | set(booked) | {c for p in pools for c in p["languages"]})
    all_talk = [v for (_c, mode), v in talk.items() if mode is RequestMode.ON_DEMAND]
    fallback = sum(all_talk) / len(all_talk) if all_talk else 900.0
    languages = [{
        "code": code,
        "talk_minutes": max(0.5, talk.get((code, RequestMode.ON_DEMAND), fallback) / 60),
        "booked_minutes": max(0.5, talk.get((code, RequestMode.BOOKED), 3 * fallback) / 60),
        "hour_of_week_rates": [round(r, 6) for r in on_demand.get(code, [0.0] * HOURS_PER_WEEK)],
        "booked_hour_of_week_rates": [round(r, 6) for r in booked.get(code, [0.0] * HOURS_PER_WEEK)],
    } for code in codes]
    spoken = {c for p in pools for c in p["languages"]}
    for code in codes:
        if code not in spoken:
            # Demand nobody here speaks: a stand-in who is never online (attendance 0), so its
            # requests go unfilled in the simulator as they did in reality, and planning can ask
            # for "a new person speaking" it.
            pools.append({"languages": [code], "count": 1, "attendance": 0.0,
                          "windows": [{"days": [0], "start_hour": 0, "end_hour": 1}]})
    return parse_scenario({
        "name": f"fitted-{weeks}w-{end.date().isoformat()}",
        "days": 28.0,
        "start_weekday": 0,
        "service": await _service(db, start, end, settings),
        "demand": {"office_kinds": kinds or {"other": 1.0}},
        "languages": languages,
        "pools": pools,
    })
