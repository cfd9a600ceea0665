"""Process tuning for the signalling server's tail latency."""

from __future__ import annotations

import gc

_gc_tuned = False


def tune_gc(gen0_threshold: int = 10_000) -> None:
    """Keep the garbage collector's pauses out of the signalling tail latency (called once the
    app has started).

    After start-up the process holds about a million objects (FastAPI, pydantic schemas,
    SQLAlchemy, aiortc) that live until exit, and every full collection walked them all:
    60–130 ms on the development machine, measured during a burst of 2,000 connections. That
    is a pause for every socket. `gc.freeze()` moves them to the permanent generation, which
    collections skip (full passes then took 30–55 ms). Objects made later (sockets, rooms) are
    not frozen, so their cycles are still collected.

    Relaying itself barely feeds the collector (relayed messages are freed by reference
    counting: 0–1 collections in 4 s at 5,000 messages/s), so the threshold matters for
    bursts of connections: 10,000 instead of 700 means a third as many young passes there,
    each still a few milliseconds at most, and fewer promotions towards a full collection.
    """
    global _gc_tuned
    if _gc_tuned:  # once per process: a second freeze would pin what died since in cycles for good
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
