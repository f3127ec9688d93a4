"""Per-user generation quotas: a rolling 24 hours (stricter for teens) and a per-minute burst limit."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from app import generations
from app.db import utcnow
from app.errors import TooManyRequests
from app.models import Generation, User
from tests.conftest import create_user

GENERATIONS = "/api/v1/generations"


def _requested(rt, user: User, *moments: datetime) -> None:
    """Generations `user` requested at these times (their outcome does not matter to a quota)."""
    with rt.db.transaction() as s:
        for moment in moments:
            s.add(Generation(owner_id=user.id, prompt="a red kite", cameo_ids=[], seed=1, status="draft",
                             created_at=moment))


def _check(rt, user: User, now: datetime) -> None:
    with rt.db.transaction() as s:
        generations.check_quota(s, s.get(User, user.id), now)


def test_the_api_answers_429_quota_exceeded_with_retry_after_once_the_daily_quota_is_used(make_api, monkeypatch):
    monkeypatch.setenv("GL_GENERATION_QUOTA_DAILY", "2")
    api, _ = make_api("alice@t.test")
    before = utcnow()
    assert [api.post(GENERATIONS, json={"prompt": f"a red kite, take {n}"}).status_code for n in range(2)] == [201] * 2
    refused = api.post(GENERATIONS, json={"prompt": "a red kite, take 3"})
    assert refused.status_code == 429
    error = refused.json["error"]
    assert error["code"] == "quota_exceeded"
    details = error["details"]
    assert (details["limit"], details["window"], details["used"]) == (2, "24h", 2)
    reset = datetime.fromisoformat(details["reset_at"])
    assert before + timedelta(hours=24) < reset <= utcnow() + timedelta(hours=24)  # the first request's end
    assert int(refused.headers["Retry-After"]) == details["retry_after_s"]
    assert abs(details["retry_after_s"] - (reset - utcnow()).total_seconds()) < 60
    assert len(api.get(GENERATIONS).json["items"]) == 2  # nothing was created


def test_the_quota_is_per_user(make_api, monkeypatch):
    monkeypatch.setenv("GL_GENERATION_QUOTA_DAILY", "1")
    alice, _ = make_api("alice@t.test")
    bob, _ = make_api("bob@t.test")
    assert alice.post(GENERATIONS, json={"prompt": "a red kite"}).status_code == 201
    assert alice.post(GENERATIONS, json={"prompt": "a red kite"}).status_code == 429
    assert bob.post(GENERATIONS, json={"prompt": "a red kite"}).status_code == 201


def test_the_24_hours_roll_and_the_reset_is_when_a_request_leaves_them(rt, monkeypatch):
    monkeypatch.setenv("GL_GENERATION_QUOTA_DAILY", "3")
    monkeypatch.setenv("GL_GENERATION_QUOTA_PER_MINUTE", "0")
    alice = create_user(rt, "alice@t.test")
    now = utcnow()
    _requested(rt, alice, now - timedelta(hours=30), now - timedelta(hours=20), now - timedelta(hours=2),
               now - timedelta(minutes=5))
    with pytest.raises(TooManyRequests) as refused:
        _check(rt, alice, now)  # three within 24 hours; the one 30 hours ago no longer counts
    assert refused.value.details["reset_at"] == (now - timedelta(hours=20) + timedelta(hours=24)).isoformat()
    assert refused.value.retry_after_s == 4 * 3600
    _check(rt, alice, now + timedelta(hours=4, seconds=1))  # the oldest left the window


def test_teens_have_a_stricter_daily_quota(rt):
    teen = create_user(rt, "teen@t.test", birthdate=date(utcnow().year - 15, 1, 1))
    adult = create_user(rt, "adult@t.test")
    now = utcnow()
    hundred = [now - timedelta(hours=1, seconds=n) for n in range(100)]
    _requested(rt, teen, *hundred)
    _requested(rt, adult, *hundred)
    with pytest.raises(TooManyRequests) as refused:
        _check(rt, teen, now)
    assert (refused.value.code, refused.value.details["limit"]) == ("quota_exceeded", 100)
    _check(rt, adult, now)  # the adults' default is 500


def test_a_burst_within_a_minute_is_refused_before_the_daily_quota(rt):
    alice = create_user(rt, "alice@t.test")
    now = utcnow()
    _requested(rt, alice, *[now - timedelta(seconds=50 - n) for n in range(30)])
    with pytest.raises(TooManyRequests) as refused:
        _check(rt, alice, now)
    assert (refused.value.details["window"], refused.value.details["limit"]) == ("1m", 30)
    assert refused.value.retry_after_s == 10  # the oldest of the thirty leaves the minute then
    _check(rt, alice, now + timedelta(seconds=11))


def test_the_check_is_one_query_while_under_quota(rt):
    alice = create_user(rt, "alice@t.test")
    _requested(rt, alice, utcnow() - timedelta(minutes=3))
    statements = []
    with rt.db.transaction() as s:
        user = s.get(User, alice.id)
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(rt.db.engine, "before_cursor_execute", listener)
        try:
            generations.check_quota(s, user)
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", listener)
    assert len(statements) == 1 and "count" in statements[0].lower()


def test_zero_switches_a_limit_off(rt, monkeypatch):
    monkeypatch.setenv("GL_GENERATION_QUOTA_DAILY_TEEN", "0")
    monkeypatch.setenv("GL_GENERATION_QUOTA_PER_MINUTE", "0")
    teen = create_user(rt, "teen@t.test", birthdate=None)  # no birthdate: treated as a teen
    now = utcnow()
    _requested(rt, teen, *[now - timedelta(seconds=n) for n in range(120)])
    _check(rt, teen, now)
