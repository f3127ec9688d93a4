"""The revenue ledger through the API and on the database, against the in-memory reference journal."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select, text

from app.models import Role
from copyright import ledger
from tests.app.test_api import envelope
from tests.conftest import drain
from tests.copyright.test_registry_api import claim_and_verify

NOW = datetime.now(timezone.utc)


@pytest.fixture
def world(rt, make_api):
    """Paws holds Garfield at 15 %; Bob's published Garfield video; Cara's published remix of it."""
    admin, _ = make_api("admin@t.test", role=Role.ADMIN, handle="admin")
    paws, _ = make_api("paws@t.test", role=Role.RIGHTSHOLDER, handle="paws")
    bob, bob_user = make_api("bob@t.test", handle="bob")
    cara, cara_user = make_api("cara@t.test", handle="cara")
    carol, _ = make_api("carol@t.test", role=Role.REVIEWER, handle="carol")
    org = admin.post("/api/v1/rightsholders/orgs", json={"name": "Paws, Inc.", "member_handles": ["paws"]}).get_json()
    claim_and_verify(admin, paws)
    paws.put("/api/v1/works/garfield/policy", json={"kind": "allow_with_revenue_share", "share_bp": 1500})
    original = bob.post("/api/v1/generations", json={"prompt": "Garfield napping"}).get_json()["id"]
    drain(rt)
    bob.post(f"/api/v1/generations/{original}/publish")
    remix = cara.post("/api/v1/generations", json={"prompt": "a dance party with balloons", "remix_of": original}).get_json()["id"]
    drain(rt)
    assert cara.post(f"/api/v1/generations/{remix}/publish").get_json()["status"] == "published"
    return dict(admin=admin, paws=paws, bob=bob, cara=cara, carol=carol, org=org["id"], original=original,
                remix=remix, bob_id=bob_user.id, cara_id=cara_user.id)


def event(w, event_id, gid, amount, currency="USD", when=None):
    return w["admin"].post("/api/v1/revenue-events", json={
        "event_id": event_id, "generation_id": gid, "amount": amount, "currency": currency,
        "occurred_at": (when or NOW - timedelta(minutes=5)).isoformat()})


def lines(resp):
    return {line["account"]: line["amount"] for line in resp.get_json()["lines"]}


def test_revenue_is_split_and_redelivery_changes_nothing(world):
    w = world
    first = event(w, "pay-1", w["original"], 10_000)
    assert first.status_code == 201, first.get_json()
    assert lines(first) == {f"revenue:{w['original']}": -10_000, "platform": 2000,
                            f"rightsholder:{w['org']}": 1200, f"creator:{w['bob_id']}": 6800}
    again = event(w, "pay-1", w["original"], 10_000)
    assert again.status_code == 200 and lines(again) == lines(first)
    envelope(event(w, "pay-1", w["original"], 9_999), 409, "event_id_conflict")
    # The remix pays its parent's creator and the parent's works along the chain.
    remix = lines(event(w, "pay-2", w["remix"], 10_000))
    assert remix == {f"revenue:{w['remix']}": -10_000, "platform": 2000, f"creator:{w['cara_id']}": 7200,
                     f"creator:{w['bob_id']}": 680, f"rightsholder:{w['org']}": 120}
    balances = w["admin"].get("/api/v1/ledger/balances?currency=USD").get_json()
    assert balances["total"] == 0 and balances["balances"][f"creator:{w['bob_id']}"] == 7480


def test_a_service_account_records_revenue_and_reaches_nothing_else(world, make_api):
    w = world
    payments, _ = make_api("payments@t.test", role=Role.SERVICE, handle="payments")
    resp = payments.post("/api/v1/revenue-events", json={
        "event_id": "store-1", "generation_id": w["original"], "amount": 1_000, "currency": "USD",
        "occurred_at": (NOW - timedelta(minutes=1)).isoformat()})
    assert resp.status_code == 201 and sum(lines(resp).values()) == 0
    # Endpoints open to every signed-in user and admin-only ones are closed to it.
    envelope(payments.get(f"/api/v1/generations/{w['original']}"), 403, "role_not_allowed")
    envelope(payments.post("/api/v1/generations", json={"prompt": "a cat"}), 403, "role_not_allowed")
    envelope(payments.get("/api/v1/ledger/balances?currency=USD"), 403, "role_not_allowed")


def test_bad_revenue_events_write_nothing(rt, world):
    w = world
    envelope(event(w, "x-1", w["original"], -5), 422, "validation_error")
    envelope(event(w, "x-2", w["original"], 0), 422, "validation_error")
    envelope(event(w, "x-3", "nope", 100), 404, "generation_not_found")
    envelope(event(w, "x-4", w["original"], 100, currency="usd"), 422, "validation_error")
    envelope(event(w, "x-5", w["original"], 100, when=NOW + timedelta(days=2)), 422, "occurred_in_future")
    envelope(w["bob"].post("/api/v1/revenue-events", json={"event_id": "x", "generation_id": w["original"],
                                                           "amount": 1, "currency": "USD",
                                                           "occurred_at": NOW.isoformat()}), 403, "role_not_allowed")
    w["bob"].delete(f"/api/v1/generations/{w['original']}")
    envelope(event(w, "x-6", w["original"], 100), 409, "video_not_published")
    with rt.db.transaction() as s:
        assert s.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM ledger_lines")).scalar() == 0


def test_postings_are_append_only_in_the_database(rt, world):
    assert event(world, "pay-1", world["original"], 500).status_code == 201
    for statement in ("UPDATE ledger_lines SET amount = amount + 1", "DELETE FROM ledger_lines",
                      "UPDATE ledger_entries SET gross = 0", "DELETE FROM ledger_entries"):
        # The triggers refuse it; on PostgreSQL the app's role is not even granted it (tests/test_db_roles.py).
        with pytest.raises(Exception, match="append-only|permission denied"):
            with rt.db.transaction() as s:
                s.execute(text(statement))


def test_reversal_statements_and_period_close(world):
    w = world
    period = NOW.strftime("%Y-%m")
    event(w, "pay-1", w["original"], 10_000)
    event(w, "pay-2", w["original"], 333, currency="EUR")
    reversed_ = w["admin"].post("/api/v1/revenue-events/pay-1/reversal", json={"reversal_event_id": "fix-1"})
    assert reversed_.status_code == 201 and lines(reversed_)["platform"] == -2000
    envelope(w["admin"].post("/api/v1/revenue-events/pay-1/reversal", json={"reversal_event_id": "fix-2"}), 409,
             "already_reversed")
    envelope(w["admin"].post("/api/v1/revenue-events/nope/reversal", json={"reversal_event_id": "fix-3"}), 404,
             "ledger_event_not_found")
    statement = w["paws"].get(f"/api/v1/rightsholders/me/statements/{period}").get_json()
    # EUR: 333 - 20 % platform = 266.4, of which 15 % = 39.96, rounded by largest remainder.
    assert statement["totals"] == {"EUR": 40, "USD": 0} and not statement["closed"]
    assert [(l["event_id"], l["amount"]) for l in statement["lines"] if l["currency"] == "USD"] == \
        [("pay-1", 1200), ("fix-1", -1200)]
    as_csv = w["paws"].get(f"/api/v1/rightsholders/me/statements/{period}?format=csv")
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert sorted((r["event_id"], r["currency"], int(r["amount_minor"])) for r in rows) == \
        [("fix-1", "USD", -1200), ("pay-1", "USD", 1200), ("pay-2", "EUR", 40)]
    envelope(w["paws"].get("/api/v1/rightsholders/me/statements/2026-13"), 422, "invalid_period")
    envelope(w["bob"].get(f"/api/v1/rightsholders/me/statements/{period}"), 403, "role_not_allowed")
    # Closing freezes the month: nothing more lands in it.
    assert w["admin"].post(f"/api/v1/ledger/periods/{period}/close").status_code == 201
    envelope(w["admin"].post(f"/api/v1/ledger/periods/{period}/close"), 409, "period_closed")
    envelope(w["admin"].post("/api/v1/ledger/periods/2999-01/close"), 422, "period_in_future")
    envelope(event(w, "pay-3", w["original"], 100), 409, "period_closed")
    assert w["paws"].get(f"/api/v1/rightsholders/me/statements/{period}").get_json()["closed"] is True


@pytest.mark.slow
def test_a_monetise_claim_holds_the_creators_share_until_the_ruling(world):
    w = world
    paws, bob, carol = w["paws"], w["bob"], w["carol"]
    event(w, "before-claim", w["original"], 1000)
    claim = paws.post(f"/api/v1/generations/{w['original']}/claims", json={
        "work_id": "garfield", "action": "monetise", "reason": "Our character is the whole video."}).get_json()
    held = lines(event(w, "during-claim", w["original"], 1000, when=datetime.now(timezone.utc)))
    assert held[f"escrow:claim:{claim['id']}"] == 680 and f"creator:{w['bob_id']}" not in held
    case_id = bob.post(f"/api/v1/video-claims/{claim['id']}/dispute",
                       json={"reason": "I drew the cat differently."}).get_json()["case_id"]
    upheld = carol.post(f"/api/v1/cases/{case_id}/decision", json={
        "decision": "uphold", "policy_code": "COPYRIGHT-INFRINGEMENT", "note": "It is recognisably Garfield."})
    assert upheld.status_code == 200, upheld.get_json()
    balances = w["admin"].get("/api/v1/ledger/balances?currency=USD").get_json()["balances"]
    assert balances[f"escrow:claim:{claim['id']}"] == 0
    assert balances[f"rightsholder:{w['org']}"] == 120 + 120 + 680
    assert balances[f"creator:{w['bob_id']}"] == 680  # only the revenue from before the claim
    after = lines(event(w, "after-ruling", w["original"], 1000, when=datetime.now(timezone.utc)))
    assert after[f"rightsholder:{w['org']}"] == 120 + 680


def test_an_undecided_dispute_lapses_in_the_creators_favour(rt, world):
    from app import case_decisions
    from app.models import Case, User

    w = world
    claim = w["paws"].post(f"/api/v1/generations/{w['original']}/claims", json={
        "work_id": "garfield", "action": "monetise", "reason": "Our character is the whole video."}).get_json()
    event(w, "during-claim", w["original"], 1000, when=datetime.now(timezone.utc))
    case_id = w["bob"].post(f"/api/v1/video-claims/{claim['id']}/dispute",
                            json={"reason": "I drew the cat differently."}).get_json()["case_id"]
    with rt.db.transaction() as s:
        admin = s.scalar(select(User).where(User.email == "admin@t.test"))
        due = s.get(Case, case_id).due_at
        assert case_decisions.sweep(s, admin, now=due - timedelta(hours=1))["lapsed"] == 0  # not yet due
        assert case_decisions.sweep(s, admin, now=due + timedelta(seconds=1))["lapsed"] == 1
    [listed] = w["bob"].get(f"/api/v1/generations/{w['original']}/claims").get_json()["items"]
    assert listed["status"] == "released" and "not decided within 30 days" in listed["decision_reason"]
    balances = w["admin"].get("/api/v1/ledger/balances?currency=USD").get_json()["balances"]
    assert balances[f"escrow:claim:{claim['id']}"] == 0 and balances[f"creator:{w['bob_id']}"] == 680


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["original", "remix"]),
                                 st.integers(1, 10**9), st.sampled_from(["USD", "EUR"])), min_size=1, max_size=8))
def test_the_database_ledger_matches_the_reference_journal(world, events):
    """Random events whose ids repeat (redeliveries, and conflicting reuse): the stored books move
    exactly as the in-memory reference journal does, sum to zero, and a replay changes nothing.
    (The world persists across examples, so each example checks the change it made.)"""
    w, run = world, uuid.uuid4().hex[:8]

    def books(currency):
        got = w["admin"].get(f"/api/v1/ledger/balances?currency={currency}").get_json()
        assert got["total"] == 0
        return got["balances"]

    before = {c: books(c) for c in ("USD", "EUR")}
    journal, seen = ledger.Journal(), {}
    for n, which, amount, currency in events:
        event_id, facts = f"prop-{run}-{n}", (w[which], amount, currency)
        resp = event(w, event_id, *facts)
        if event_id in seen and seen[event_id] != facts:
            envelope(resp, 409, "event_id_conflict")
            continue
        assert resp.status_code == (200 if event_id in seen else 201), resp.get_json()
        seen[event_id] = facts
        journal.post(ledger.Posting(event_id, currency, tuple(ledger.Line(a, v) for a, v in lines(resp).items())))
    after = {c: books(c) for c in ("USD", "EUR")}
    for currency in ("USD", "EUR"):
        moved = {a: after[currency].get(a, 0) - before[currency].get(a, 0)
                 for a in after[currency].keys() | before[currency].keys()}
        expected = journal.balances(currency)
        assert {a: v for a, v in moved.items() if v} == {a: v for a, v in expected.items() if v}
    assert {event(w, eid, *facts).status_code for eid, facts in seen.items()} == {200}
    assert {c: books(c) for c in ("USD", "EUR")} == after
