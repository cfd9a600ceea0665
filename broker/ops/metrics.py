"""Prometheus metrics, one registry per app (tests create many apps in one process).

Figures the database knows (interpreters online, queue, offers, dispatch latency, active
calls) are computed at scrape time, so they are the same on every instance — aggregate them
with `max()`, not `sum()`. Per-instance figures (WebSocket connections, rooms held here,
draining) carry the instance's own view; sum those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.call.models import Call
from broker.enums import CallStatus, OfferStatus, RequestMode, RequestStatus
from broker.interpreter.models import InterpreterLanguage, InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.request.models import InterpretingRequest, Offer

# Seconds from request to accepted offer; the maximum wait defaults to 180 s.
LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0)
CLOSED_OFFER_OUTCOMES = (OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.REVOKED)


@dataclass
class Snapshot:
    online_by_language: dict[str, int] = field(default_factory=dict)
    interpreters_by_status: dict[str, int] = field(default_factory=dict)
    queue_length: int = 0
    offers_pending: int = 0
    offers_by_outcome: dict[str, int] = field(default_factory=dict)
    latency_buckets: list[int] = field(default_factory=list)  # cumulative, one per LATENCY_BUCKETS
    latency_count: int = 0
    latency_sum: float = 0.0
    active_calls: int = 0
    websocket_connections: int = 0
    rooms_local: int = 0
    draining: bool = False
    bus: BusFigures | None = None  # None: in-memory backplane (one process)


@dataclass(frozen=True)
class BusFigures:
    """The Redis backplane as this instance sees it (signaling/redis_backplane.py)."""

    up: bool
    queued: int
    dropped: int
    replayed: int


def bus_figures(hub: Any | None) -> BusFigures | None:
    backplane = getattr(hub, "backplane", None)
    outbox = getattr(backplane, "outbox", None)
    if backplane is None or outbox is None:
        return None
    return BusFigures(up=backplane.state == "ok", queued=len(outbox), dropped=outbox.dropped,
                      replayed=outbox.replayed)


async def take_snapshot(*, db: AsyncSession, hub: Any | None, draining: bool) -> Snapshot:
    """Read the figures from the database and the hub (a handful of aggregate queries)."""
    snap = Snapshot(draining=draining)
    online = (
        select(InterpreterLanguage.language_code, func.count())
        .join(InterpreterProfile, InterpreterProfile.user_id == InterpreterLanguage.interpreter_id)
        .where(InterpreterProfile.online.is_(True))
        .group_by(InterpreterLanguage.language_code)
    )
    snap.online_by_language = {code: int(n) for code, n in (await db.execute(online)).all()}
    by_status = select(InterpreterProfile.status, func.count()).group_by(InterpreterProfile.status)
    snap.interpreters_by_status = {str(s): int(n) for s, n in (await db.execute(by_status)).all()}
    queue = select(func.count()).select_from(InterpretingRequest).where(
        InterpretingRequest.mode == RequestMode.ON_DEMAND,
        InterpretingRequest.status.in_((RequestStatus.QUEUED, RequestStatus.OFFERED)),
    )
    snap.queue_length = int((await db.execute(queue)).scalar_one())
    offers = select(Offer.status, func.count()).group_by(Offer.status)
    counts = {str(s): int(n) for s, n in (await db.execute(offers)).all()}
    snap.offers_pending = counts.get(OfferStatus.PENDING.value, 0)
    snap.offers_by_outcome = {o.value: counts.get(o.value, 0) for o in CLOSED_OFFER_OUTCOMES}
    wait = LedgerEntry.wait_seconds
    columns = [func.sum(case((wait <= b, 1), else_=0)) for b in LATENCY_BUCKETS]
    row = (await db.execute(select(func.count(wait), func.sum(wait), *columns).where(wait.is_not(None)))).one()
    snap.latency_count, snap.latency_sum = int(row[0] or 0), float(row[1] or 0)
    snap.latency_buckets = [int(v or 0) for v in row[2:]]
    calls = select(func.count()).select_from(Call).where(Call.status == CallStatus.ACTIVE)
    snap.active_calls = int((await db.execute(calls)).scalar_one())
    if hub is not None:
        snap.websocket_connections = int(hub.connection_count)
        snap.rooms_local = len(hub.room_ids())
        snap.bus = bus_figures(hub)
    return snap


class SnapshotCollector(Collector):
    """Yields the last snapshot; the /metrics route refreshes it just before rendering."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        online = GaugeMetricFamily("vd_interpreters_online", "Interpreters online, by language they speak",
                                   labels=["language"])
        for code, n in sorted(s.online_by_language.items()):
            online.add_metric([code], n)
        yield online
        status = GaugeMetricFamily("vd_interpreters", "Interpreters by presence status", labels=["status"])
        for name, n in sorted(s.interpreters_by_status.items()):
            status.add_metric([name], n)
        yield status
        yield GaugeMetricFamily("vd_queue_length", "On-demand requests waiting for an interpreter",
                                value=s.queue_length)
        yield GaugeMetricFamily("vd_offers_pending", "Offers waiting for the interpreter's answer",
                                value=s.offers_pending)
        offers = CounterMetricFamily("vd_offers", "Offers that ended, by outcome", labels=["outcome"])
        for outcome, n in s.offers_by_outcome.items():
            offers.add_metric([outcome], n)
        yield offers
        buckets = [(_le(b), float(n)) for b, n in zip(LATENCY_BUCKETS, s.latency_buckets, strict=False)]
        buckets.append(("+Inf", float(s.latency_count)))
        yield HistogramMetricFamily("vd_dispatch_latency_seconds",
                                    "Wait from request to accepted offer (finished requests, from the ledger)",
                                    buckets=buckets, sum_value=s.latency_sum)
        yield GaugeMetricFamily("vd_active_calls", "Calls with media flowing", value=s.active_calls)
        yield GaugeMetricFamily("vd_websocket_connections", "WebSocket connections held by this instance",
                                value=s.websocket_connections)
        yield GaugeMetricFamily("vd_rooms_local", "Call rooms known to this instance", value=s.rooms_local)
        yield GaugeMetricFamily("vd_draining", "1 while this instance drains before stopping",
                                value=1 if s.draining else 0)
        if s.bus is not None:
            yield GaugeMetricFamily("vd_bus_up", "1 while Redis takes this instance's bus writes in time "
                                    "(0: degraded, frames for other instances are held)", value=1 if s.bus.up else 0)
            yield GaugeMetricFamily("vd_bus_queued", "Bus frames waiting in this instance's outbox",
                                    value=s.bus.queued)
            yield CounterMetricFamily("vd_bus_dropped", "Bus frames dropped (outbox full or too old)",
                                      value=s.bus.dropped)
            yield CounterMetricFamily("vd_bus_replayed", "Bus frames sent late, after Redis came back",
                                      value=s.bus.replayed)


def _le(bound: float) -> str:
    return str(int(bound)) if bound.is_integer() else str(bound)


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = SnapshotCollector()
        self.registry.register(self.collector)
        ProcessCollector(registry=self.registry)

    def render(self, snapshot: Snapshot) -> bytes:
        self.collector.snapshot = snapshot
        return generate_latest(self.registry)
