"""A Hypothesis rule-based state machine drives dispatch at random and checks every invariant.

Rules: create, accept (own pending offer), a wrong accept (someone else's or a finished offer),
decline, cancel, time-out, maximum wait, disconnect, reconnect, connect and end a call. After
every step `check_invariants` looks at the database: one accepted offer per request, one
session and one pending offer per interpreter, profile status in step with the offers, a
ledger row for exactly the finished requests. Bounded to stay well under a minute per backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from broker.config import DispatchStrategy, Settings
from broker.database import make_engine, make_sessionmaker, utcnow
from broker.enums import OfferStatus, Qualification, RequestStatus
from broker.errors import Conflict, DomainError, NotFound
from broker.interpreter import status as interpreter_status
from broker.live.unit import FixedOutlet, bind
from broker.request import lifecycle, offers
from broker.request import service as request_service
from broker.request.models import InterpretingRequest, Offer
from broker.request.scheduled import Dispatcher
from broker.request.schemas import RequestCreate
from broker.user.models import User
from tests.conftest import build_world, truncate_all
from tests.request.conftest import RecordingRealtime, add_interpreter, check_invariants

T = TypeVar("T")
LANGUAGES = ("ar", "fa")
INTERPRETERS = 4


def machine_for(base: Settings) -> type[RuleBasedStateMachine]:
    config = base.model_copy(update={"dispatch_strategy": DispatchStrategy.RING, "ring_size": 2,
                                     "wrap_up_seconds": 0.0, "missed_offers_before_away": 2})

    class DispatchMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.rt = RecordingRealtime()
            self.run(self._setup())

        def run(self, coro: Awaitable[T]) -> T:
            return self.loop.run_until_complete(coro)

        async def _setup(self) -> None:
            self.engine = make_engine(config)
            await truncate_all(self.engine)
            self.sessionmaker = make_sessionmaker(self.engine)
            async with self.sessionmaker() as db:
                world = await build_world(db)
                self.caseworkers = [world.users["caseworker_a"], world.users["caseworker_b"]]
                self.interpreters: list[User] = []
                for n in range(INTERPRETERS):
                    langs = {"ar": Qualification.CERTIFIED} if n % 2 else {"ar": Qualification.SWORN,
                                                                          "fa": Qualification.TRAINED}
                    self.interpreters.append(await add_interpreter(db, f"m{n}", langs, idle_minutes=n))
                db.expunge_all()
            self.dispatcher = Dispatcher(sessionmaker=self.sessionmaker, settings=config, rt=self.rt)

        def teardown(self) -> None:
            self.run(self.engine.dispose())
            self.loop.close()

        async def act(self, body: Any) -> Any:
            async with self.sessionmaker() as db:
                try:
                    result = await body(db)
                except DomainError:
                    await db.rollback()
                    raise
                bind(db, FixedOutlet(self.rt))
                await db.commit()
                return result

        async def rows(self, model: Any, *where: Any) -> list[Any]:
            async with self.sessionmaker() as db:
                return list((await db.execute(select(model).where(*where))).scalars())

        @rule(language=st.sampled_from(LANGUAGES), who=st.integers(0, 1))
        def create(self, language: str, who: int) -> None:
            request_in = RequestCreate(language_code=language, purpose="residence_permit")
            self.run(self.act(lambda db: request_service.create(
                db=db, user=self.caseworkers[who], request_in=request_in, settings=config, now=utcnow())))

        @rule(pick=st.integers(0, 50))
        def accept(self, pick: int) -> None:
            pending = self.run(self.rows(Offer, Offer.status == OfferStatus.PENDING))
            if not pending:
                return
            offer = pending[pick % len(pending)]
            user = next(u for u in self.interpreters if u.id == offer.interpreter_id)
            self.run(self.act(lambda db: offers.accept(db=db, offer_id=offer.id, user=user, settings=config,
                                                       now=utcnow())))

        @rule(pick=st.integers(0, 50), other=st.integers(1, INTERPRETERS - 1))
        def wrong_accept(self, pick: int, other: int) -> None:
            every = self.run(self.rows(Offer))
            if not every:
                return
            offer = every[pick % len(every)]
            index = next(i for i, u in enumerate(self.interpreters) if u.id == offer.interpreter_id)
            stranger = self.interpreters[(index + other) % INTERPRETERS]
            try:
                self.run(self.act(lambda db: offers.accept(db=db, offer_id=offer.id, user=stranger,
                                                           settings=config, now=utcnow())))
            except NotFound:  # someone else's offer reads as missing (no probing)
                return
            raise AssertionError("someone else's offer was accepted")

        @rule(pick=st.integers(0, 50))
        def accept_finished(self, pick: int) -> None:
            done = self.run(self.rows(Offer, Offer.status != OfferStatus.PENDING))
            if not done:
                return
            offer = done[pick % len(done)]
            user = next(u for u in self.interpreters if u.id == offer.interpreter_id)
            try:
                self.run(self.act(lambda db: offers.accept(db=db, offer_id=offer.id, user=user, settings=config,
                                                           now=utcnow())))
            except Conflict:
                return
            raise AssertionError("a finished offer was accepted")

        @rule(pick=st.integers(0, 50))
        def decline(self, pick: int) -> None:
            pending = self.run(self.rows(Offer, Offer.status == OfferStatus.PENDING))
            if not pending:
                return
            offer = pending[pick % len(pending)]
            user = next(u for u in self.interpreters if u.id == offer.interpreter_id)
            self.run(self.act(lambda db: offers.decline(db=db, offer_id=offer.id, user=user, settings=config,
                                                        now=utcnow())))

        @rule(pick=st.integers(0, 50))
        def cancel(self, pick: int) -> None:
            requests = self.run(self.rows(InterpretingRequest))
            if not requests:
                return
            request = requests[pick % len(requests)]
            owner = next(u for u in self.caseworkers if u.id == request.caseworker_id)
            try:
                self.run(self.act(lambda db: request_service.cancel(db=db, user=owner, request_id=request.id,
                                                                    now=utcnow())))
            except Conflict:
                assert request.status not in lifecycle.CANCELLABLE

        @rule()
        def timeout(self) -> None:
            async def expire() -> None:
                async with self.sessionmaker() as db:
                    await db.execute(Offer.__table__.update().where(Offer.status == OfferStatus.PENDING)
                                     .values(expires_at=utcnow() - timedelta(seconds=1)))
                    await db.commit()
                await self.dispatcher.run_once(queue=True)
            self.run(expire())

        @rule()
        def max_wait(self) -> None:
            async def give_up() -> None:
                async with self.sessionmaker() as db:
                    await db.execute(InterpretingRequest.__table__.update()
                                     .where(InterpretingRequest.status.in_(["queued", "offered"]))
                                     .values(deadline_at=utcnow() - timedelta(seconds=1)))
                    await db.commit()
                await self.dispatcher.run_once(queue=True)
            self.run(give_up())

        @rule(who=st.integers(0, INTERPRETERS - 1), online=st.booleans())
        def presence(self, who: int, online: bool) -> None:
            user_id = self.interpreters[who].id
            self.run(self.act(lambda db: interpreter_status.set_online(db=db, user_id=user_id, online=online,
                                                              settings=config, now=utcnow())))
            self.run(self.dispatcher.run_once(queue=True))

        @rule(pick=st.integers(0, 50), connect=st.booleans())
        def end_call(self, pick: int, connect: bool) -> None:
            calls = self.run(self.rows(InterpretingRequest, InterpretingRequest.status.in_(
                [RequestStatus.ACCEPTED, RequestStatus.CONNECTED])))
            if not calls:
                return
            request = calls[pick % len(calls)]
            owner = next(u for u in self.caseworkers if u.id == request.caseworker_id)
            if connect:
                self.run(self.act(lambda db: request_service.mark_connected(
                    db=db, user=owner, request_id=request.id, now=utcnow())))
            self.run(self.act(lambda db: request_service.end_call(db=db, user=owner, request_id=request.id,
                                                                  settings=config, now=utcnow())))
            self.run(self.dispatcher.run_once(queue=True))

        @invariant()
        def holds(self) -> None:
            async def check() -> None:
                async with self.sessionmaker() as db:
                    await check_invariants(db)
            self.run(check())

    return DispatchMachine


def test_random_dispatch_sequences_keep_every_invariant(settings: Settings) -> None:
    """Random sequences of dispatch actions never break an invariant, on either database."""
    machine = machine_for(settings)
    run_state_machine_as_test(machine, settings=HYPOTHESIS)


HYPOTHESIS = hypothesis_settings(max_examples=12, stateful_step_count=25, deadline=None,
                      suppress_health_check=list(HealthCheck))
