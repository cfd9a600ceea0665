"""A discrete-event simulator of the service that routes with the server's own policy function.

Own event loop on `heapq` (a SimPy process per caller costs a generator and several events per
request; a flat heap of tuples is several times faster and still reads top to bottom). Time is
seconds from the start, which is local midnight of `scenario.start_weekday`.

What is modelled (see docs/routing.md for the rules in prose):
* on-demand arrivals: Poisson, piecewise constant per hour of the week, language and office kind
  drawn by their shares in that hour; bookings the same way (they take a free speaker of their
  language by fair share, or wait up to the no-show window for one);
* offers one at a time (the `sequential` strategy) ranked by `broker.routing.policy.rank`;
  each offer is accepted after an exponential delay, declined, or left to time out;
* maximum wait → unfilled (some callers ask for a callback: an urgent request when a speaker of
  the language frees up); optional exponential patience → abandoned;
* talk (lognormal or exponential per language), wrap-up, a break after `max_session_minutes`;
* presence from weekly windows with an attendance probability per shift.
Everything random comes from streams derived from `seed` (arrivals, bookings, presence per
interpreter, answers per request): a seed gives the same run.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from array import array
from bisect import bisect_right
from typing import Any

from broker.routing.compiled import CompiledScenario, compile_scenario
from broker.routing.policy import Candidate, PoolSnapshot, RoutingPolicy, rank
from broker.routing.results import HOURS_PER_WEEK, Cell, InterpreterLoad, SimulationResult
from broker.routing.scenario import Scenario, ScenarioError

DAY = 86_400.0
HOUR = 3_600.0
NO_SHOW_SECONDS = 300.0  # a booking whose interpreter is not free by then counts as missed

# Event kinds (ints: compared only on equal time and sequence, which never happens).
ARRIVAL, BOOKING, RESPONSE, CALL_END, WRAP_END, BREAK_END, ON, OFF, DAY_START, DEADLINE, ABANDON, BOOK_END = \
    range(12)
# Interpreter states
OFFLINE, FREE, OFFERED, BUSY, WRAP, AWAY = range(6)
# Offer answers
ACCEPT, DECLINE, EXPIRE = range(3)


class SimulationLimitError(RuntimeError):
    """The run hit its bound on simulated events or wall-clock time."""


class _Request:
    __slots__ = ("lang", "how", "kind", "arrival", "asked", "offer", "done", "urgent", "callback",
                 "waiting", "addressable", "talk", "rng")

    def __init__(self, lang: int, how: int, kind: int, arrival: float, urgent: bool, callback: bool) -> None:
        self.lang = lang
        self.how = how
        self.kind = kind
        self.arrival = arrival
        self.asked: set[int] = set()
        self.offer = -1
        self.done = False
        self.urgent = urgent
        self.callback = callback
        self.waiting = False
        self.addressable = False
        self.talk = 0.0  # drawn at arrival so every policy sees the same call lengths
        self.rng: random.Random | None = None  # the caller's and the offers' answers


class _Engine:
    def __init__(self, compiled: CompiledScenario, scenario: Scenario, policy: RoutingPolicy, seed: int,
                 answer_seconds: float) -> None:
        self.c = compiled
        self.s = scenario.service
        self.policy = policy
        # Separate streams, so two policies see the same callers, bookings and presence
        # (common random numbers). The answers to a request's k-th offer come from the
        # request's own stream, so they too are the same under every policy.
        self.arrivals_rng = random.Random(f"{seed}:arrivals")
        self.bookings_rng = random.Random(f"{seed}:bookings")
        # One presence stream per interpreter: adding a person (a what-if) leaves everyone
        # else's days worked exactly as they were.
        self.presence_rngs = [random.Random(f"{seed}:presence:{i}") for i in range(len(compiled.interpreters))]
        self.answer_seconds = answer_seconds
        self.start_hours = scenario.start_weekday * 24
        n_lang = len(compiled.codes)
        self.index = {code: i for i, code in enumerate(compiled.codes)}
        people = compiled.interpreters
        n = len(people)
        self.status = [OFFLINE] * n
        self.depth = [0] * n  # overlapping presence windows
        self.idle_since: list[float | None] = [None] * n
        self.token = [0] * n
        self.offer_req: list[_Request | None] = [None] * n
        self.session_talk = [0.0] * n
        self.booked_talk = [0.0] * n
        self.loads = [InterpreterLoad(languages=tuple(sorted(p.codes))) for p in people]
        self.on_since = [0.0] * n
        self.free: list[set[int]] = [set() for _ in range(n_lang)]
        self.present = [0] * n_lang  # speakers online per language
        self.waiting: list[list[_Request]] = [[] for _ in range(n_lang)]
        self.callbacks: list[list[_Request]] = [[] for _ in range(n_lang)]
        self.booking_waits: list[list[tuple[float, float]]] = [[] for _ in range(n_lang)]
        # Free speakers per language code, kept in step with `free`: the policy reads it directly.
        self.free_count: dict[str, int] = dict.fromkeys(compiled.codes, 0)
        self.lang_code = list(compiled.codes)
        # Interpreters with the same languages and qualification form a group; both policies
        # order inside a group by (idle since, id), so only each group's front runner can be
        # ranked first. The simulator hands `rank` those front runners (tests/routing proves
        # the choice equals ranking everyone); this keeps a 20x year fast.
        group_ids: dict[tuple[frozenset[str], int], int] = {}
        self.group = [group_ids.setdefault((p.codes, p.qualification_rank), len(group_ids)) for p in people]
        self.groups_by_lang: list[list[int]] = [[] for _ in range(n_lang)]
        for (codes, _rank), gid in group_ids.items():
            for code in codes:
                self.groups_by_lang[self.index[code]].append(gid)
        self.group_heap: list[list[tuple[float, int, int]]] = [[] for _ in group_ids]
        self.version = [0] * n
        # Per language: free speakers by booked talk so far (bookings go to the least booked).
        self.booking_heap: list[list[tuple[float, int, int]]] = [[] for _ in range(n_lang)]
        self.handle = [t + self.s.wrap_up_seconds for t in compiled.talk_seconds]
        self.heap: list[tuple[float, int, int, Any]] = []
        self.seq = 0
        self.cells = {code: [Cell() for _ in range(HOURS_PER_WEEK)] for code in compiled.codes}
        self.cell_rows = [self.cells[code] for code in compiled.codes]
        self.kind_cells = {kind: Cell() for kind in compiled.kinds}
        self.kind_rows = [self.kind_cells[k] for k in compiled.kinds]
        self.waits = array("d")
        self.booked = self.booked_missed = self.callbacks_made = self.callbacks_answered = 0
        self.open_requests = 0  # waiting requests; presence goes on past the horizon until they end

    # ------------------------------------------------------------------ helpers
    def push(self, at: float, kind: int, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    def how(self, t: float) -> int:
        return int(t / HOUR + self.start_hours) % HOURS_PER_WEEK

    def next_arrival(self, t: float, totals: list[float], rng: random.Random) -> float:
        """Next event of a Poisson process with rate totals[hour of week] (per hour), after t."""
        for _ in range(HOURS_PER_WEEK + 1):
            rate = totals[self.how(t)]
            boundary = (math.floor(t / HOUR) + 1) * HOUR
            if rate > 0:
                candidate = t + rng.expovariate(rate / HOUR)
                if candidate < boundary:
                    return candidate
            t = boundary
        return math.inf  # no demand in any hour of the week

    @staticmethod
    def draw(cum: list[float], rng: random.Random) -> int:
        return min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)

    def talk(self, mean: float, rng: random.Random) -> float:
        if self.s.talk_distribution == "exponential":
            return rng.expovariate(1.0 / mean)
        sigma2 = math.log(1 + self.s.talk_cv ** 2)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    # ------------------------------------------------------------------ interpreters
    def take(self, i: int, state: int) -> None:
        """Interpreter i stops being free (offered, busy)."""
        was_free = self.status[i] == FREE
        self.status[i] = state
        if was_free:
            count, codes = self.free_count, self.lang_code
            for lang in self.c.interpreters[i].languages:
                self.free[lang].discard(i)
                count[codes[lang]] -= 1

    def become_available(self, i: int, t: float) -> None:
        if self.depth[i] == 0:
            self.status[i] = OFFLINE
            return
        langs = self.c.interpreters[i].languages
        if self.status[i] != FREE:
            count, codes = self.free_count, self.lang_code
            for lang in langs:
                self.free[lang].add(i)
                count[codes[lang]] += 1
        self.status[i] = FREE
        self.version[i] += 1
        idle = self.idle_since[i]
        heapq.heappush(self.group_heap[self.group[i]], (-math.inf if idle is None else idle, i, self.version[i]))
        for lang in langs:
            heapq.heappush(self.booking_heap[lang], (self.booked_talk[i], i, self.version[i]))
        for lang in langs:  # a waiting booking first: its interpreter is reserved for it
            waits = self.booking_waits[lang]
            while waits and self.status[i] == FREE:
                deadline, duration = waits.pop(0)
                if deadline >= t:
                    self.start_booking(i, t, duration)
                else:
                    self.booked_missed += 1
        for lang in langs:
            calls = self.callbacks[lang]
            while calls and self.status[i] == FREE:
                old = calls.pop(0)
                self.callbacks_made += 1
                request = _Request(old.lang, self.how(t), old.kind, t, urgent=True, callback=True)
                request.talk = old.talk
                request.rng = old.rng
                self.push(t + self.s.max_wait_seconds, DEADLINE, request)
                self.open_requests += 1
                self.dispatch(request, t)
        if self.status[i] != FREE:
            return
        queued = [r for lang in langs for r in self.waiting[lang]]
        if len(queued) > 1:
            queued.sort(key=lambda r: (not r.urgent, r.arrival))
        for request in queued:
            if self.status[i] != FREE:
                break
            if i not in request.asked and not request.done and request.offer < 0:
                self.dispatch(request, t)

    def start_booking(self, i: int, t: float, duration: float) -> None:
        self.take(i, BUSY)
        self.booked += 1
        self.booked_talk[i] += duration
        self.loads[i].talk_seconds += duration
        self.push(t + duration, BOOK_END, i)

    # ------------------------------------------------------------------ requests
    def dispatch(self, request: _Request, t: float) -> None:
        if request.done or request.offer >= 0:
            return
        lang = request.lang
        asked = request.asked
        people = self.c.interpreters
        idle = self.idle_since
        candidates = []
        for gid in self.groups_by_lang[lang]:
            i = self.front_runner(gid, asked)
            if i >= 0:
                candidates.append(Candidate(i, idle[i], people[i].qualification_rank, people[i].codes))
        if not candidates:
            if not request.waiting:
                request.waiting = True
                self.waiting[lang].append(request)
            return
        pool = PoolSnapshot(free=self.free_count, arrivals_per_hour=self.c.rates_by_hour[self.how(t)],
                            handle_seconds=self.handle[lang])
        chosen = rank(policy=self.policy, language=self.c.codes[lang], candidates=candidates, pool=pool, n=1)[0]
        if request.waiting:
            request.waiting = False
            self.waiting[lang].remove(request)
        self.take(chosen, OFFERED)
        self.token[chosen] += 1
        self.offer_req[chosen] = request
        request.offer = chosen
        asked.add(chosen)
        rng = request.rng
        assert rng is not None
        s, u = self.s, rng.random()
        if u < s.no_answer_probability:
            at, answer = t + s.offer_timeout_seconds, EXPIRE
        elif u < s.no_answer_probability + s.decline_probability:
            at, answer = t + rng.expovariate(1 / s.decline_delay_seconds) if s.decline_delay_seconds else t, DECLINE
        else:
            at, answer = t + rng.expovariate(1 / s.accept_delay_seconds) if s.accept_delay_seconds else t, ACCEPT
            at = min(at, t + s.offer_timeout_seconds)
        self.push(at, RESPONSE, (chosen, self.token[chosen], answer))

    def front_runner(self, gid: int, asked: set[int]) -> int:
        """The free member of a group with the earliest (idle since, id) not asked yet; -1 if none."""
        heap, status, version = self.group_heap[gid], self.status, self.version
        while heap and (status[heap[0][1]] != FREE or version[heap[0][1]] != heap[0][2]):
            heapq.heappop(heap)  # stale: taken since, or pushed again with a newer idle time
        if not heap:
            return -1
        if heap[0][1] not in asked:
            return heap[0][1]
        valid = [e for e in heap if status[e[1]] == FREE and version[e[1]] == e[2] and e[1] not in asked]
        return min(valid)[1] if valid else -1

    def finish(self, request: _Request, t: float, outcome: int) -> None:
        """Record a request that ended waiting: ACCEPT (answered), EXPIRE (unfilled), DECLINE (abandoned)."""
        request.done = True
        self.open_requests -= 1
        if request.waiting:
            request.waiting = False
            self.waiting[request.lang].remove(request)
        if request.offer >= 0:  # revoke the pending offer
            i = request.offer
            request.offer = -1
            self.token[i] += 1
            self.offer_req[i] = None
            self.become_available(i, t)
        if request.callback:
            self.callbacks_answered += outcome == ACCEPT
            return
        wait = t - request.arrival
        addressable = declined = False
        if outcome == EXPIRE:
            addressable = request.addressable or self.present[request.lang] > 0
            declined = bool(self.free[request.lang]) and self.free[request.lang] <= request.asked
        cell = self.cell_rows[request.lang][request.how]
        kind = self.kind_rows[request.kind]
        for target in (cell, kind):
            target.requests += 1
            if outcome == ACCEPT:
                target.answered += 1
                target.within_answer += wait <= self.answer_seconds
            elif outcome == EXPIRE:
                target.unfilled += 1
                target.addressable_unfilled += addressable
                target.declined_unfilled += declined
            else:
                target.abandoned += 1
            target.wait_seconds += wait
        self.waits.append(wait)
        if outcome == EXPIRE and request.rng is not None and request.rng.random() < self.s.callback_probability:
            self.callbacks[request.lang].append(request)

    def arrival(self, t: float) -> None:
        c, rng = self.c, self.arrivals_rng
        how = self.how(t)
        lang = self.draw(c.cum_on_demand[how], rng)
        request = _Request(lang, how, self.draw(c.cum_kinds, rng), t, urgent=False, callback=False)
        request.talk = self.talk(c.talk_seconds[lang], rng)
        request.rng = random.Random(rng.getrandbits(64))
        request.addressable = self.present[lang] > 0
        self.push(t + self.s.max_wait_seconds, DEADLINE, request)
        self.open_requests += 1
        if self.s.patience_seconds:
            self.push(t + rng.expovariate(1 / self.s.patience_seconds), ABANDON, request)
        self.dispatch(request, t)
        self.push(self.next_arrival(t, c.total_on_demand, rng), ARRIVAL, None)

    def booking(self, t: float) -> None:
        c, rng = self.c, self.bookings_rng
        lang = self.draw(c.cum_booked[self.how(t)], rng)
        duration = self.talk(c.booked_seconds[lang], rng)
        heap, status, version = self.booking_heap[lang], self.status, self.version
        while heap and (status[heap[0][1]] != FREE or version[heap[0][1]] != heap[0][2]):
            heapq.heappop(heap)
        if heap:
            self.start_booking(heap[0][1], t, duration)
        else:
            self.booking_waits[lang].append((t + NO_SHOW_SECONDS, duration))
        self.push(self.next_arrival(t, c.total_booked, rng), BOOKING, None)

    def response(self, i: int, token: int, answer: int, t: float) -> None:
        if self.token[i] != token:
            return  # revoked meanwhile
        request = self.offer_req[i]
        self.offer_req[i] = None
        assert request is not None
        request.offer = -1
        if answer == ACCEPT:
            self.finish(request, t, ACCEPT)
            self.take(i, BUSY)
            duration = request.talk
            self.loads[i].talk_seconds += duration
            self.loads[i].calls += 1
            self.session_talk[i] += duration
            self.push(t + duration, CALL_END, i)
            return
        self.dispatch(request, t)
        self.become_available(i, t)

    def presence_on(self, i: int, t: float) -> None:
        self.depth[i] += 1
        if self.depth[i] > 1:
            return
        self.on_since[i] = t
        for lang in self.c.interpreters[i].languages:
            self.present[lang] += 1
        if self.idle_since[i] is None:
            self.idle_since[i] = t
        if self.status[i] == OFFLINE:
            self.become_available(i, t)

    def presence_off(self, i: int, t: float) -> None:
        self.depth[i] -= 1
        if self.depth[i] > 0:
            return
        self.loads[i].online_seconds += t - self.on_since[i]
        for lang in self.c.interpreters[i].languages:
            self.present[lang] -= 1
        if self.status[i] == FREE:
            self.take(i, OFFLINE)
        # busy, offered, wrap-up or away: offline once that ends (become_available checks depth)

    def day_start(self, day: int, t: float) -> None:
        weekday = (self.c_start_weekday + day) % 7
        for i, person in enumerate(self.c.interpreters):
            rng = self.presence_rngs[i]
            for window_day, start, end, attendance in person.windows:
                if window_day == weekday and (attendance >= 1 or rng.random() < attendance):
                    on, off = t + start * HOUR, t + end * HOUR
                    self.push(on, ON, i)
                    self.push(off, OFF, i)
        self.push(t + DAY, DAY_START, day + 1)  # past the horizon the loop drops it once no request waits

    def carry_over_night(self) -> None:
        """Windows of the day before the start that run past midnight are already on at 0."""
        weekday = (self.c_start_weekday - 1) % 7
        for i, person in enumerate(self.c.interpreters):
            for window_day, _start, end, attendance in person.windows:
                if window_day == weekday and end > 24 and (
                        attendance >= 1 or self.presence_rngs[i].random() < attendance):
                    self.push(0.0, ON, i)
                    self.push((end - 24) * HOUR, OFF, i)

    # ------------------------------------------------------------------ loop
    def run(self, horizon: float, max_events: int, max_wall_seconds: float) -> int:
        c = self.c
        self.carry_over_night()
        self.push(0.0, DAY_START, 0)
        self.push(self.next_arrival(0.0, c.total_on_demand, self.arrivals_rng), ARRIVAL, None)
        self.push(self.next_arrival(0.0, c.total_booked, self.bookings_rng), BOOKING, None)
        s = self.s
        heap = self.heap
        pop = heapq.heappop
        started = time.perf_counter()
        events = 0
        while heap:
            t, _, kind, payload = pop(heap)
            if t >= horizon and (kind == ARRIVAL or kind == BOOKING or (kind == DAY_START and not self.open_requests)):
                continue  # no new work after the horizon; requests under way run to their end with presence
            events += 1
            if events > max_events:
                raise SimulationLimitError(f"more than {max_events} simulated events")
            if events & 0x3FFF == 0:
                if time.perf_counter() - started > max_wall_seconds:
                    raise SimulationLimitError(f"more than {max_wall_seconds:g} s of wall-clock time")
            if kind == ARRIVAL:
                self.arrival(t)
            elif kind == RESPONSE:
                i, token, answer = payload
                self.response(i, token, answer, t)
            elif kind == DEADLINE:
                request: _Request = payload
                if not request.done:
                    self.finish(request, t, EXPIRE)
            elif kind == CALL_END:
                i = payload
                self.status[i] = WRAP
                self.push(t + s.wrap_up_seconds, WRAP_END, i)
            elif kind == WRAP_END or kind == BOOK_END:
                i = payload
                self.status[i] = WRAP
                if s.break_minutes > 0 and self.session_talk[i] >= s.max_session_minutes * 60:
                    self.session_talk[i] = 0.0
                    self.status[i] = AWAY
                    self.push(t + s.break_minutes * 60, BREAK_END, i)
                else:
                    self.idle_since[i] = t
                    self.become_available(i, t)
            elif kind == BREAK_END:
                self.idle_since[payload] = t
                self.become_available(payload, t)
            elif kind == ON:
                self.presence_on(payload, t)
            elif kind == OFF:
                self.presence_off(payload, t)
            elif kind == DAY_START:
                self.day_start(payload, t)
            elif kind == BOOKING:
                self.booking(t)
            elif kind == ABANDON:
                abandoning: _Request = payload
                if not abandoning.done:
                    self.finish(abandoning, t, DECLINE)
        self.booked_missed += sum(len(waits) for waits in self.booking_waits)
        for i, load in enumerate(self.loads):
            if self.depth[i] > 0:
                load.online_seconds += horizon - self.on_since[i]
        return events

    c_start_weekday = 0


def simulate(scenario: Scenario, *, policy: RoutingPolicy | str = RoutingPolicy.SCARCITY, seed: int = 0,
             days: float | None = None, answer_seconds: float = 60.0, compiled: CompiledScenario | None = None,
             max_events: int = 200_000_000, max_wall_seconds: float = 900.0) -> SimulationResult:
    """Run one replication: the scenario under `policy`, reproducible from `seed`.

    `compiled` lets a caller that runs many seeds or policies on one scenario compile it once.
    Raises ScenarioError for absurd arguments and SimulationLimitError when a bound is hit.
    """
    try:
        chosen = RoutingPolicy(policy)
    except ValueError:
        raise ScenarioError("policy", f"unknown policy {policy!r}; one of "
                            f"{', '.join(p.value for p in RoutingPolicy)}") from None
    horizon_days = scenario.days if days is None else days
    if not 0 < horizon_days <= 3_660:
        raise ScenarioError("days", "must lie in (0, 3660]")
    if not answer_seconds >= 0:
        raise ScenarioError("answer_seconds", "must not be negative")
    compiled = compiled or compile_scenario(scenario)
    engine = _Engine(compiled, scenario, chosen, seed, answer_seconds)
    engine.c_start_weekday = scenario.start_weekday
    started = time.perf_counter()
    events = engine.run(horizon_days * DAY, max_events, max_wall_seconds)
    wall = time.perf_counter() - started
    return SimulationResult(
        scenario=scenario.name, policy=chosen.value, seed=seed, days=horizon_days, answer_seconds=answer_seconds,
        max_wait_seconds=scenario.service.max_wait_seconds, languages=list(compiled.codes), cells=engine.cells,
        interpreters=engine.loads, waits=engine.waits, office_kinds=engine.kind_cells, booked=engine.booked,
        booked_missed=engine.booked_missed, callbacks=engine.callbacks_made,
        callbacks_answered=engine.callbacks_answered, events=events, wall_seconds=wall)
