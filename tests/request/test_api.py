"""The REST API of on-demand requests and offers: happy paths, idempotency and every bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.config import DispatchStrategy, Settings
from broker.database import utcnow
from broker.enums import InterpreterStatus, LedgerOutcome, Media, OfferStatus, OfficeKind, Qualification, RequestMode
from broker.interpreter.models import InterpreterProfile
from broker.ledger.models import LedgerEntry
from broker.request.models import Offer
from broker.request.replay import make_current_state
from tests.request.conftest import Api, add_interpreter, check_invariants, snapshot


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"dispatch_strategy": DispatchStrategy.RING, "ring_size": 2})


async def test_create_offers_and_shows_queue_position(api: Api, db: AsyncSession) -> None:
    """A created request is offered at once and reports its queue position while it waits."""
    interpreter = await add_interpreter(db, "amal", world=api.world)
    response = await api.create()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "offered" and body["queue_position"] == 1
    assert api.rt.of(interpreter.id, "offer")[0]["request_id"] == body["id"]
    shown = await api.client.get(f"/api/requests/{body['id']}", headers=api.world.auth("caseworker_a"))
    assert shown.json()["queue_position"] == 1


async def test_idempotency_key_replays_and_refuses_another_body(api: Api, db: AsyncSession) -> None:
    """The same key returns the stored request; the same key with another body is a 422."""
    await add_interpreter(db, "amal", world=api.world)
    headers = {**api.world.auth("caseworker_a"), "Idempotency-Key": "k-1"}
    body = {"language_code": "ar", "purpose": "residence_permit"}
    first = await api.client.post("/api/requests", json=body, headers=headers)
    again = await api.client.post("/api/requests", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    before = await snapshot(db)
    other = await api.client.post("/api/requests", json={**body, "media": "audio"}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert await snapshot(db) == before


async def test_accept_returns_join_and_is_idempotent(api: Api, db: AsyncSession) -> None:
    """Accept answers with the join token; a retry with the key returns the same answer."""
    interpreter = await add_interpreter(db, "amal", world=api.world)
    request_id = (await api.create()).json()["id"]
    offer_id = api.rt.of(interpreter.id, "offer")[0]["offer_id"]
    headers = {**api.world.auth("amal"), "Idempotency-Key": "accept-1"}
    accepted = await api.client.post(f"/api/offers/{offer_id}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["request"]["status"] == "accepted" and accepted.json()["join"]["token"]
    replay = await api.client.post(f"/api/offers/{offer_id}/accept", headers=headers)
    assert replay.status_code == 200 and replay.json() == accepted.json()
    plain = await api.client.post(f"/api/offers/{offer_id}/accept", headers=api.world.auth("amal"))
    assert plain.status_code == 409
    caseworker = api.world.auth("caseworker_a")
    join = await api.client.get(f"/api/requests/{request_id}/join", headers=caseworker)
    assert join.status_code == 200 and join.json()["role"] == "counter"
    guest = await api.client.post(f"/api/requests/{request_id}/guest-link", headers=caseworker)
    assert guest.status_code == 201 and "guest.html#room=" in guest.json()["url"]
    assert (await api.client.post(f"/api/requests/{request_id}/connected", headers=caseworker)).status_code == 200
    ended = await api.client.post(f"/api/requests/{request_id}/end", headers=api.world.auth("amal"))
    assert ended.json()["status"] == "completed"
    rated = await api.client.post(f"/api/requests/{request_id}/rating", headers=caseworker,
                                  json={"rating": 4, "problems": ["audio"]})
    assert rated.status_code == 200
    entry = (await db.execute(select(LedgerEntry))).scalar_one()
    assert entry.rating == 4 and entry.problems == "audio" and entry.outcome is LedgerOutcome.COMPLETED
    await check_invariants(db)


async def test_bad_offers_are_refused_and_change_nothing(api: Api, db: AsyncSession) -> None:
    """Someone else's offer and an unknown one → the same 404 (ids cannot be probed); a revoked or
    expired offer → 409; nothing changes."""
    first = await add_interpreter(db, "first", idle_minutes=20, world=api.world)
    second = await add_interpreter(db, "second", idle_minutes=10, world=api.world)
    await add_interpreter(db, "third", idle_minutes=1, online=False, world=api.world)
    await api.create()
    offer_first = api.rt.of(first.id, "offer")[0]["offer_id"]
    offer_second = api.rt.of(second.id, "offer")[0]["offer_id"]
    before = await snapshot(db)
    stolen = await api.client.post(f"/api/offers/{offer_first}/accept", headers=api.world.auth("second"))
    missing = await api.client.post("/api/offers/999999/accept", headers=api.world.auth("second"))
    # Someone else's offer and a missing one answer alike, so offer ids cannot be probed.
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == missing.json() and stolen.json()["code"] == "not_found"
    stolen_decline = await api.client.post(f"/api/offers/{offer_first}/decline", headers=api.world.auth("second"))
    missing_decline = await api.client.post("/api/offers/999999/decline", headers=api.world.auth("second"))
    assert stolen_decline.status_code == missing_decline.status_code == 404
    assert stolen_decline.json() == missing_decline.json()
    assert await snapshot(db) == before
    won = await api.client.post(f"/api/offers/{offer_first}/accept", headers=api.world.auth("first"))
    assert won.status_code == 200
    before = await snapshot(db)
    late = await api.client.post(f"/api/offers/{offer_second}/accept", headers=api.world.auth("second"))
    assert late.status_code == 409 and late.json()["code"] == "offer_revoked"
    declined = await api.client.post(f"/api/offers/{offer_second}/decline", headers=api.world.auth("second"))
    assert declined.status_code == 409
    assert await snapshot(db) == before
    # an offer past its deadline (the sweeper has not run yet) is refused as expired
    await api.create()
    await db.rollback()
    pending_id = (await db.execute(select(Offer.id).where(Offer.status == OfferStatus.PENDING))).scalar_one()
    await db.execute(Offer.__table__.update().where(Offer.id == pending_id)
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    before = await snapshot(db)
    expired = await api.client.post(f"/api/offers/{pending_id}/accept", headers=api.world.auth("second"))
    assert expired.status_code == 409 and expired.json()["code"] == "offer_expired"
    assert await snapshot(db) == before


async def test_unknown_language_or_purpose_is_422_and_changes_nothing(api: Api, db: AsyncSession) -> None:
    """Unknown language or purpose codes are refused without writing anything."""
    await add_interpreter(db, "amal", world=api.world)
    before = await snapshot(db)
    for body in ({"language_code": "xx"}, {"purpose": "nonsense"}, {"language_code": "AR!"},
                 {"priority": "immediately"}):
        response = await api.create(**body)
        assert response.status_code == 422, (body, response.text)
    assert await snapshot(db) == before


async def test_language_nobody_speaks_is_422_and_recorded_once(api: Api, db: AsyncSession) -> None:
    """A language without registered interpreters is refused clearly and logged as unmet demand."""
    headers = {**api.world.auth("caseworker_a"), "Idempotency-Key": "uk-1"}
    body = {"language_code": "uk", "purpose": "other"}
    response = await api.client.post("/api/requests", json=body, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "no_interpreter"
    assert "Ukrainian" in response.json()["message"]
    retry = await api.client.post("/api/requests", json=body, headers=headers)
    assert retry.status_code == 422
    entry = (await db.execute(select(LedgerEntry))).scalar_one()
    assert entry.outcome is LedgerOutcome.NO_INTERPRETER and entry.request_id is None
    assert entry.language_code == "uk" and entry.office_id == api.world.office_a.id


async def test_other_office_sees_404_and_changes_nothing(api: Api, db: AsyncSession) -> None:
    """A caseworker of another office cannot see, cancel or end the request (404)."""
    await add_interpreter(db, "amal", world=api.world)
    request_id = (await api.create()).json()["id"]
    before = await snapshot(db)
    other = api.world.auth("caseworker_b")
    assert (await api.client.get(f"/api/requests/{request_id}", headers=other)).status_code == 404
    for action in ("cancel", "callback", "end", "guest-link"):
        response = await api.client.post(f"/api/requests/{request_id}/{action}", headers=other)
        assert response.status_code == 404, action
    listed = await api.client.get("/api/requests", headers=other)
    assert listed.json()["total"] == 0
    assert await snapshot(db) == before


async def test_cancel_revokes_offers_and_writes_ledger(api: Api, db: AsyncSession) -> None:
    """Cancelling a waiting request revokes its offers and records one cancelled ledger row."""
    interpreter = await add_interpreter(db, "amal", world=api.world)
    request_id = (await api.create()).json()["id"]
    caseworker = api.world.auth("caseworker_a")
    cancelled = await api.client.post(f"/api/requests/{request_id}/cancel", headers=caseworker)
    assert cancelled.json()["status"] == "cancelled"
    assert api.rt.of(interpreter.id, "offer-revoked")[0]["reason"] == "cancelled"
    again = await api.client.post(f"/api/requests/{request_id}/cancel", headers=caseworker)
    assert again.status_code == 409 and again.json()["code"] == "not_cancellable"
    entry = (await db.execute(select(LedgerEntry))).scalar_one()
    assert entry.outcome is LedgerOutcome.CANCELLED
    await check_invariants(db)


async def test_status_switch_and_tiers(api: Api, db: AsyncSession) -> None:
    """Interpreters switch away/available; tiers show who is on duty now per language. An away
    interpreter is not "online, all busy": nobody will take the request, so the counter is told to book."""
    interpreter = await add_interpreter(db, "amal", {"ar": Qualification.SWORN, "fa": Qualification.TRAINED},
                                        world=api.world)
    headers = api.world.auth("amal")
    away = await api.client.put("/api/interpreter/status", json={"status": "away"}, headers=headers)
    assert away.json()["status"] == "away"
    tiers = {t["language_code"]: t for t in (await api.client.get(
        "/api/languages/tiers", headers=api.world.auth("caseworker_a"))).json()}
    assert (tiers["ar"]["tier"], tiers["ar"]["interpreters_online"]) == ("booking", 0)
    assert tiers["uk"]["tier"] == "none"
    back = await api.client.put("/api/interpreter/status", json={"status": "available"}, headers=headers)
    assert back.json()["status"] == "available"
    tiers = {t["language_code"]: t for t in (await api.client.get(
        "/api/languages/tiers", headers=api.world.auth("caseworker_a"))).json()}
    assert tiers["ar"]["tier"] == "now" and tiers["ar"]["interpreters_available"] == 1
    assert tiers["gsg"]["tier"] == "none"
    profile = await db.get(InterpreterProfile, interpreter.id)
    assert profile is not None
    await db.refresh(profile)
    profile.status = InterpreterStatus.IN_SESSION  # in a call: on duty, free again after it
    await db.commit()
    tiers = {t["language_code"]: t for t in (await api.client.get(
        "/api/languages/tiers", headers=api.world.auth("caseworker_a"))).json()}
    assert (tiers["ar"]["tier"], tiers["ar"]["interpreters_online"], tiers["ar"]["interpreters_available"]) == (
        "soon", 1, 0)
    bad = await api.client.put("/api/interpreter/status", json={"status": "in_session"}, headers=headers)
    assert bad.status_code == 422
    refused = await api.client.put("/api/interpreter/status", json={"status": "away"},
                                   headers=api.world.auth("caseworker_a"))
    assert refused.status_code == 403


async def test_offer_event_names_office_kind_language_and_purpose_only(api: Api, db: AsyncSession) -> None:
    """The offer an interpreter sees carries the office kind, language and purpose — no names, no office."""
    interpreter = await add_interpreter(db, "amal", world=api.world)
    request_id = (await api.create()).json()["id"]
    [offer] = api.rt.of(interpreter.id, "offer")
    assert offer["office_kind"] == "immigration_office" and offer["language_code"] == "ar"
    assert offer["purpose"] == "residence_permit" and offer["request_id"] == request_id
    assert set(offer) == {"type", "offer_id", "request_id", "office_kind", "language_code", "purpose", "media",
                          "priority", "mode", "escalated_booking", "expires_at"}
    assert offer["escalated_booking"] is False
    replayed = await make_current_state(api.sessionmaker, api.rt)(interpreter.id)
    assert [e["office_kind"] for e in replayed if e["type"] == "offer"] == ["immigration_office"]


async def test_tiers_count_the_own_offices_requests_of_the_last_90_days(api: Api, db: AsyncSession) -> None:
    """Tiers report per language how often the caller's office asked in 90 days; other offices do not count."""
    now = utcnow()

    def row(office_id: int, code: str, days_ago: int) -> LedgerEntry:
        at = now - timedelta(days=days_ago)
        return LedgerEntry(office_id=office_id, office_kind=OfficeKind.IMMIGRATION_OFFICE, district_ags="16051",
                           language_code=code, purpose="other", mode=RequestMode.ON_DEMAND, media=Media.VIDEO,
                           requested_at=at, ended_at=at, outcome=LedgerOutcome.COMPLETED)

    office_a, office_b = api.world.office_a.id, api.world.office_b.id
    db.add_all([row(office_a, "ar", 1), row(office_a, "ar", 89), row(office_a, "fa", 3), row(office_a, "uk", 91),
                row(office_b, "uk", 1)])
    await db.commit()
    tiers = {t["language_code"]: t["office_requests"] for t in (await api.client.get(
        "/api/languages/tiers", headers=api.world.auth("caseworker_a"))).json()}
    assert tiers == {"ar": 2, "fa": 1, "uk": 0, "gsg": 0}
    other = {t["language_code"]: t["office_requests"] for t in (await api.client.get(
        "/api/languages/tiers", headers=api.world.auth("caseworker_b"))).json()}
    assert other["uk"] == 1 and other["ar"] == 0


async def test_every_way_into_a_call_gives_the_same_join_with_the_requests_media(api: Api, db: AsyncSession) -> None:
    """Accept, `/join`, the `call-join` event after commit and the replay on reconnect all come from
    `call.join_for`: same room, the party's own role, and an audio-only request says `audio` everywhere
    (the event before the HTTP answer used to carry no media, so the interpreter's camera went on)."""
    interpreter = await add_interpreter(db, "amal", world=api.world)
    caseworker_id = api.world.users["caseworker_a"].id
    request_id = (await api.create(media="audio")).json()["id"]
    offer_id = api.rt.of(interpreter.id, "offer")[0]["offer_id"]
    accepted = await api.client.post(f"/api/offers/{offer_id}/accept", headers=api.world.auth("amal"))
    assert accepted.status_code == 200, accepted.text
    by_accept = accepted.json()["join"]
    [event_interpreter] = api.rt.of(interpreter.id, "call-join")
    [event_counter] = api.rt.of(caseworker_id, "call-join")
    by_join = {name: (await api.client.get(f"/api/requests/{request_id}/join", headers=api.world.auth(name))).json()
               for name in ("amal", "caseworker_a")}
    replay = make_current_state(api.sessionmaker, api.rt)
    by_replay = {uid: [e for e in await replay(uid) if e["type"] == "call-join"][0]
                 for uid in (interpreter.id, caseworker_id)}
    interpreter_joins = [by_accept, event_interpreter, by_join["amal"], by_replay[interpreter.id]]
    counter_joins = [event_counter, by_join["caseworker_a"], by_replay[caseworker_id]]
    for joins, role in ((interpreter_joins, "interpreter"), (counter_joins, "counter")):
        assert {(j["room_id"], j["role"], j["media"], j["request_id"]) for j in joins} == {
            (by_accept["room_id"], role, "audio", request_id)}
        assert all(j["token"] for j in joins)
